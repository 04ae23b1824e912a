using Google.Protobuf.Reflection;
using OrleansLm.Protos.Health.V1;

namespace OrleansLm.Client;

/// <summary>grpc.health.v1.Health, the standard health-checking protocol (open to callers without a token).</summary>
public sealed class HealthClient(GatewayConnection connection)
{
    private static readonly ServiceDescriptor Service = HealthReflection.Descriptor.FindTypeByName<ServiceDescriptor>("Health");

    /// <summary>NOT_FOUND for a service the gateway does not know.</summary>
    public Task<HealthCheckResponse> CheckAsync(HealthCheckRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<HealthCheckRequest, HealthCheckResponse>(MethodPath.Of(Service, "Check"), request, timeout, cancellation);

    /// <summary>The serving status now, then each change, until the call ends.</summary>
    public IAsyncEnumerable<HealthCheckResponse> WatchAsync(HealthCheckRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.ServerStreamingAsync<HealthCheckRequest, HealthCheckResponse>(MethodPath.Of(Service, "Watch"), request, timeout, cancellation);
}
