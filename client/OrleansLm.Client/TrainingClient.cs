using Google.Protobuf.Reflection;
using OrleansLm.Protos.V1;

namespace OrleansLm.Client;

/// <summary>olm.v1.TrainingService: starts, watches and controls training runs (the gateway wants the admin token).</summary>
public sealed class TrainingClient(GatewayConnection connection)
{
    private static readonly ServiceDescriptor Service = TrainingReflection.Descriptor.FindTypeByName<ServiceDescriptor>("TrainingService");

    public Task<Run> StartRunAsync(StartRunRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<StartRunRequest, Run>(MethodPath.Of(Service, "StartRun"), request, timeout, cancellation);

    public Task<Run> GetRunAsync(GetRunRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<GetRunRequest, Run>(MethodPath.Of(Service, "GetRun"), request, timeout, cancellation);

    public Task<ListRunsResponse> ListRunsAsync(ListRunsRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<ListRunsRequest, ListRunsResponse>(MethodPath.Of(Service, "ListRuns"), request, timeout, cancellation);

    public Task<Run> PauseRunAsync(PauseRunRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<PauseRunRequest, Run>(MethodPath.Of(Service, "PauseRun"), request, timeout, cancellation);

    public Task<Run> ResumeRunAsync(ResumeRunRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<ResumeRunRequest, Run>(MethodPath.Of(Service, "ResumeRun"), request, timeout, cancellation);

    public Task<Run> StopRunAsync(StopRunRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<StopRunRequest, Run>(MethodPath.Of(Service, "StopRun"), request, timeout, cancellation);

    public Task<ExportModelResponse> ExportModelAsync(ExportModelRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<ExportModelRequest, ExportModelResponse>(MethodPath.Of(Service, "ExportModel"), request, timeout, cancellation);

    /// <summary>The run's status, then its events until it ends; see <see cref="GatewayConnection.ServerStreamingAsync{TRequest,TResponse}"/>.</summary>
    public IAsyncEnumerable<RunEvent> WatchRunAsync(WatchRunRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.ServerStreamingAsync<WatchRunRequest, RunEvent>(MethodPath.Of(Service, "WatchRun"), request, timeout, cancellation);
}
