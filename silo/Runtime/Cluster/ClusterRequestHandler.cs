using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Cluster;

/// <summary>What a cluster silo answers on its transport: grain calls go to the runtime, directory requests (and a recovering owner's question) to its directory.</summary>
public sealed class ClusterRequestHandler(SiloRuntime runtime, DistributedGrainDirectory directory) : IRequestHandler
{
    public async ValueTask<ReadOnlyMemory<byte>> HandleAsync(SiloAddress caller, ReadOnlyMemory<byte> request, CancellationToken cancellation)
    {
        var (kind, body) = ClusterMessages.Open(request);
        return kind switch
        {
            ClusterMessageKind.GrainCall => await runtime.HandleRemoteCallAsync(body, cancellation).ConfigureAwait(false),
            _ => await directory.HandleAsync(caller, kind, body, cancellation).ConfigureAwait(false),
        };
    }
}
