using Microsoft.Extensions.Logging;
using OrleansLm.Runtime.GrainDirectory;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Cluster;

/// <summary>
/// The grain directory spread over the active silos: a grain's registration lives at the owner of its id on a
/// <see cref="ConsistentHashRing"/> of the Active members of this silo's membership view, in that owner's
/// <see cref="InMemoryGrainDirectory"/> partition; other silos ask the owner over the transport. An owner checks
/// every request against its own view and answers "not owner" when the key is not (or no longer) its, so two silos
/// with different views never both accept registrations for one grain; the caller then re-reads the membership
/// table and retries, a bounded number of times. After a view change (<see cref="ApplyView"/>) registrations of dead
/// silos are dropped, and each silo re-registers its own activations with their new owners (the cluster host's
/// hand-off), deactivating a local duplicate when the owner already names another silo.
/// <para>
/// The partition of a crashed owner is lost, not recovered: until the holders of its grains have re-registered with
/// the new owners (one hand-off after the view change), a call may activate such a grain a second time; the hand-off
/// then deactivates one of the two. Views that disagree (right after a join) allow the same transient duplicate.
/// </para>
/// </summary>
public sealed class DistributedGrainDirectory(
    ISiloTransport transport,
    ILocalSiloDetails localSilo,
    Func<CancellationToken, Task> refreshView,
    TimeSpan requestTimeout,
    ILogger<DistributedGrainDirectory> logger) : IGrainDirectory
{
    /// <summary>Tries of one operation; between them the view is re-read, with a growing pause for a view still in flux.</summary>
    private const int Attempts = 8;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMilliseconds(500);

    private readonly InMemoryGrainDirectory partition = new();
    private volatile ConsistentHashRing ring = new([]);
    private volatile bool detached;

    /// <summary>The ring of the latest view applied.</summary>
    public ConsistentHashRing Ring => ring;

    /// <summary>Registrations this silo holds as owner of their partition.</summary>
    public int PartitionCount => partition.Count;

    public SiloAddress? OwnerOf(GrainId grainId) => ring.Owner(grainId.ToString());

    /// <summary>
    /// Rebuilds the ring from the view's Active members, drops registrations naming Dead silos and those whose key
    /// moved to another owner (their holders re-register there). Cheap: it runs on the membership loop.
    /// </summary>
    public void ApplyView(MembershipView view)
    {
        var current = new ConsistentHashRing(view.ActiveMembers.Select(m => m.Silo));
        ring = current;
        foreach (var (grainId, silo) in partition.Registrations)
        {
            if (view.EntryOf(silo)?.Status == SiloStatus.Dead || current.Owner(grainId.ToString()) != localSilo.Address)
                partition.Remove(grainId, silo);
        }
    }

    /// <summary>This silo stops serving and using the directory (declared dead or crashed): requests fail, unregistering is skipped.</summary>
    public void Detach() => detached = true;

    public async ValueTask<SiloAddress> RegisterAsync(GrainId grainId, SiloAddress silo, CancellationToken cancellation = default) =>
        await RequestAsync(ClusterMessageKind.DirectoryRegister, grainId, silo, cancellation).ConfigureAwait(false)
        ?? throw new InvalidOperationException($"the directory owner of {grainId} registered no silo");

    public ValueTask<SiloAddress?> LookupAsync(GrainId grainId, CancellationToken cancellation = default) =>
        RequestAsync(ClusterMessageKind.DirectoryLookup, grainId, null, cancellation);

    public async ValueTask UnregisterAsync(GrainId grainId, SiloAddress silo, CancellationToken cancellation = default)
    {
        if (detached) return;
        await RequestAsync(ClusterMessageKind.DirectoryUnregister, grainId, silo, cancellation).ConfigureAwait(false);
    }

    /// <summary>Answers another silo's directory request from this silo's partition, or "not owner".</summary>
    internal ValueTask<DirectoryReply> HandleAsync(ClusterMessageKind kind, ReadOnlyMemory<byte> body, CancellationToken cancellation)
    {
        var (grainId, silo) = ClusterMessages.ReadDirectoryRequest(body.Span);
        return ValueTask.FromResult(detached || OwnerOf(grainId) != localSilo.Address ? DirectoryReply.Refused : ApplyHere(kind, grainId, silo));
    }

    private DirectoryReply ApplyHere(ClusterMessageKind kind, GrainId grainId, SiloAddress? silo)
    {
        switch (kind)
        {
            case ClusterMessageKind.DirectoryRegister:
                return new DirectoryReply(false, partition.Register(grainId, Required(silo, kind)));
            case ClusterMessageKind.DirectoryLookup:
                return new DirectoryReply(false, partition.Lookup(grainId));
            case ClusterMessageKind.DirectoryUnregister:
                partition.Remove(grainId, Required(silo, kind));
                return new DirectoryReply(false, null);
            default:
                throw new FormatException($"{kind} is not a directory request");
        }
    }

    private static SiloAddress Required(SiloAddress? silo, ClusterMessageKind kind) =>
        silo ?? throw new FormatException($"a {kind} request must name a silo");

    private async ValueTask<SiloAddress?> RequestAsync(ClusterMessageKind kind, GrainId grainId, SiloAddress? silo, CancellationToken cancellation)
    {
        var delay = FirstRetryDelay;
        for (var attempt = 1; ; attempt++)
        {
            if (detached) throw new SiloUnavailableException(localSilo.Address, "it no longer takes part in the cluster's grain directory");
            Exception failure;
            var owner = OwnerOf(grainId);
            if (owner == localSilo.Address)
            {
                // Checked again under the view this call was answered in: a locally owned key is served without a hop.
                return ApplyHere(kind, grainId, silo).Silo;
            }
            if (owner is null)
            {
                failure = new SiloUnavailableException(localSilo.Address, $"no active silo owns the directory partition of {grainId} in its view");
            }
            else
            {
                try
                {
                    var response = await transport.SendAsync(owner, ClusterMessages.DirectoryRequest(kind, grainId, silo), requestTimeout, cancellation)
                        .ConfigureAwait(false);
                    var reply = ClusterMessages.DecodeDirectoryReply(response.Span);
                    if (!reply.NotOwner) return reply.Silo;
                    failure = new SiloUnavailableException(owner, $"it does not own the directory partition of {grainId} in its view");
                }
                catch (Exception e) when (e is SiloUnavailableException or TimeoutException && !cancellation.IsCancellationRequested)
                {
                    failure = e;
                }
            }
            if (attempt == Attempts) throw failure;
            logger.LogDebug("directory {Kind} of {Grain} at {Owner} failed ({Reason}); re-reading the view", kind, grainId, owner, failure.Message);
            await Task.Delay(delay, cancellation).ConfigureAwait(false);
            delay = delay * 2 < MaxRetryDelay ? delay * 2 : MaxRetryDelay;
            try
            {
                await refreshView(cancellation).ConfigureAwait(false);
            }
            catch (Exception e) when (!cancellation.IsCancellationRequested)
            {
                logger.LogDebug("re-reading the membership view failed: {Reason}", e.Message);
            }
        }
    }
}
