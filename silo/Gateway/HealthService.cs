using OrleansLm.Protos.Grpc;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using OrleansLm.Protos.Health.V1;
using OrleansLm.Protos.V1;
using OrleansLm.Silo.Gateway.Grpc;
using ServingStatus = OrleansLm.Protos.Health.V1.HealthCheckResponse.Types.ServingStatus;

namespace OrleansLm.Silo.Gateway;

/// <summary>
/// grpc.health.v1.Health: SERVING while this silo can do model work (<see cref="SiloHealthProbe"/>) and is not shutting
/// down, for the server ("") and each of its services; what Kubernetes' gRPC probes and load balancers ask.
/// </summary>
public sealed class HealthService(SiloHealthProbe probe, IHostApplicationLifetime lifetime)
{
    /// <summary>How often Watch looks for a change.</summary>
    public static readonly TimeSpan WatchInterval = TimeSpan.FromSeconds(1);

    public void Register(GrpcMethods methods)
    {
        var service = Protos.Health.V1.HealthReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Health");
        methods
            .Unary<HealthCheckRequest, HealthCheckResponse>(service, "Check", GatewayAccess.Open, (request, _) =>
                Status(request.Service, methods) is { } status
                    ? Task.FromResult(new HealthCheckResponse { Status = status })
                    : throw new RpcException(StatusCode.NotFound, $"service: '{request.Service}' is not served here"))
            .ServerStreaming<HealthCheckRequest, HealthCheckResponse>(service, "Watch", GatewayAccess.Open, async (request, responses, call) =>
            {
                ServingStatus? sent = null;
                while (!call.CancellationToken.IsCancellationRequested)
                {
                    var status = Status(request.Service, methods) ?? ServingStatus.ServiceUnknown;
                    if (status != sent) await responses.WriteAsync(new HealthCheckResponse { Status = status });
                    sent = status;
                    await Task.Delay(WatchInterval, call.CancellationToken);
                }
            });
    }

    /// <summary>The status of <paramref name="service"/>, or null when this server does not serve it.</summary>
    private ServingStatus? Status(string service, GrpcMethods methods)
    {
        if (service.Length > 0 && methods.Services.All(s => s.FullName != service)) return null;
        return probe.Check().Status == SiloHealth.Types.Status.Serving && !lifetime.ApplicationStopping.IsCancellationRequested
            ? ServingStatus.Serving
            : ServingStatus.NotServing;
    }
}
