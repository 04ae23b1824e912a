using Google.Protobuf.Reflection;
using OrleansLm.Protos.V1;

namespace OrleansLm.Client;

/// <summary>olm.v1.SamplingService: generation and scoring with the gateway's models.</summary>
public sealed class SamplingClient(GatewayConnection connection)
{
    private static readonly ServiceDescriptor Service = SamplingReflection.Descriptor.FindTypeByName<ServiceDescriptor>("SamplingService");

    public Task<GenerateResponse> GenerateAsync(GenerateRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<GenerateRequest, GenerateResponse>(MethodPath.Of(Service, "Generate"), request, timeout, cancellation);

    /// <summary>One chunk per token as it is decoded, then each sample's finish reason; cancelling stops the generation.</summary>
    public IAsyncEnumerable<GenerateChunk> GenerateStreamAsync(GenerateRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.ServerStreamingAsync<GenerateRequest, GenerateChunk>(MethodPath.Of(Service, "GenerateStream"), request, timeout, cancellation);

    public Task<ScoreResponse> ScoreAsync(ScoreRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<ScoreRequest, ScoreResponse>(MethodPath.Of(Service, "Score"), request, timeout, cancellation);

    public Task<ListModelsResponse> ListModelsAsync(ListModelsRequest request, TimeSpan? timeout = null, CancellationToken cancellation = default) =>
        connection.UnaryAsync<ListModelsRequest, ListModelsResponse>(MethodPath.Of(Service, "ListModels"), request, timeout, cancellation);
}
