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
/// table and retries, a bounded number of times.
/// <para>
/// After a view change (<see cref="ApplyView"/>) registrations of dead silos are dropped, and keys that moved away
/// are forgotten. Keys that moved here (from a silo that left, crashed or now owns less after a join) are
/// <em>recovered</em> before they are served: the owner asks every other member, and every ShuttingDown silo (off the
/// ring, its activations alive until it drains), for its activations that the new ring gives to this owner and
/// registers them, while requests for those keys wait (up to the request timeout). So
/// a lookup after an owner's crash finds the grain where it still lives instead of placing a second activation.
/// Each silo's hand-off (in the cluster host) then re-registers its activations and deactivates a local duplicate
/// when the owner already names another silo: the duplicates that views disagreeing right after a join can make.
/// </para>
/// </summary>
public sealed class DistributedGrainDirectory(
    ISiloTransport transport,
    ILocalSiloDetails localSilo,
    Func<IReadOnlyList<GrainId>> localActivations,
    Func<CancellationToken, Task> refreshView,
    TimeSpan requestTimeout,
    ILogger<DistributedGrainDirectory> logger) : IGrainDirectory
{
    /// <summary>Tries of one operation; between them the view is re-read, with a growing pause for a view still in flux.</summary>
    private const int Attempts = 8;
    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(20);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromMilliseconds(500);

    private readonly InMemoryGrainDirectory partition = new();
    private readonly Lock recoveryGate = new();
    private volatile ConsistentHashRing ring = new([]);
    private volatile bool detached;

    // ShuttingDown silos: off the ring, but their activations live until they drain, so a recovery asks them too.
    private volatile IReadOnlyList<SiloAddress> draining = [];

    // The latest ring whose acquired keys were recovered; requests for keys this silo owns on the current ring but
    // did not own on this one wait for the recovery under way (recovered completes when it catches up with ring).
    private volatile ConsistentHashRing settled = new([]);
    private TaskCompletionSource recovered = Completed();
    private bool recovering;

    /// <summary>The ring of the latest view applied.</summary>
    public ConsistentHashRing Ring => ring;

    /// <summary>Registrations this silo holds as owner of their partition.</summary>
    public int PartitionCount => partition.Count;

    public SiloAddress? OwnerOf(GrainId grainId) => ring.Owner(grainId.ToString());

    /// <summary>
    /// Rebuilds the ring from the view's Active members, drops registrations naming Dead silos and those whose key
    /// moved to another owner (their holders re-register there), and starts recovering the keys that moved here.
    /// Cheap: it runs on the membership loop.
    /// </summary>
    public void ApplyView(MembershipView view)
    {
        var current = new ConsistentHashRing(view.ActiveMembers.Select(m => m.Silo));
        draining = [.. view.Members.Where(m => m.Status == SiloStatus.ShuttingDown && m.Silo != localSilo.Address).Select(m => m.Silo)];
        lock (recoveryGate)
        {
            ring = current;
            if (!detached && !current.Members.SequenceEqual(settled.Members))
            {
                if (recovered.Task.IsCompleted) recovered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                if (!recovering)
                {
                    recovering = true;
                    _ = Task.Run(RecoverUntilSettledAsync);
                }
            }
        }
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

    /// <summary>Answers another silo's directory request (or a recovering owner's question) from this silo's partition.</summary>
    internal async ValueTask<ReadOnlyMemory<byte>> HandleAsync(SiloAddress caller, ClusterMessageKind kind, ReadOnlyMemory<byte> body, CancellationToken cancellation)
    {
        if (kind == ClusterMessageKind.DirectoryRecover)
            return ClusterMessages.EncodeGrainIds(HoldingsFor(caller, ClusterMessages.ReadRecoveryRequest(body.Span)));
        var (grainId, silo) = ClusterMessages.ReadDirectoryRequest(body.Span);
        if (detached || OwnerOf(grainId) != localSilo.Address) return ClusterMessages.Encode(DirectoryReply.Refused);
        await AwaitRecoveryAsync(grainId, cancellation).ConfigureAwait(false);
        return ClusterMessages.Encode(ApplyHere(kind, grainId, silo));
    }

    /// <summary>This silo's activations that the ring of <paramref name="ringMembers"/> gives to <paramref name="owner"/>.</summary>
    private IReadOnlyList<GrainId> HoldingsFor(SiloAddress owner, IReadOnlyList<SiloAddress> ringMembers)
    {
        if (detached) return [];
        var theirRing = new ConsistentHashRing(ringMembers);
        return [.. localActivations().Where(grainId => theirRing.Owner(grainId.ToString()) == owner)];
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
                // A locally owned key is served without a hop, once recovered; the owner is checked again after the wait.
                await AwaitRecoveryAsync(grainId, cancellation).ConfigureAwait(false);
                if (OwnerOf(grainId) == localSilo.Address) return ApplyHere(kind, grainId, silo).Silo;
                continue;
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

    /// <summary>Waits while <paramref name="grainId"/> is a key this silo acquired and has not yet recovered; a recovery slower than the request timeout is not waited for any longer.</summary>
    private async ValueTask AwaitRecoveryAsync(GrainId grainId, CancellationToken cancellation)
    {
        Task pending;
        lock (recoveryGate) pending = recovered.Task;
        var key = grainId.ToString();
        if (pending.IsCompleted || settled.Owner(key) == localSilo.Address) return;
        try
        {
            await pending.WaitAsync(requestTimeout, cancellation).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            logger.LogWarning("serving {Grain} before its partition's recovery finished ({Timeout} passed)", grainId, requestTimeout);
        }
    }

    /// <summary>Recovers the current ring's acquired keys, again for each view that arrived meanwhile, until the ring holds still.</summary>
    private async Task RecoverUntilSettledAsync()
    {
        while (true)
        {
            var target = ring;
            try
            {
                await RecoverAsync(target).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                logger.LogWarning(e, "recovering the directory partition for {Members} silos failed; serving without it", target.Members.Count);
            }
            lock (recoveryGate)
            {
                if (ring == target || detached)
                {
                    settled = target;
                    recovering = false;
                    recovered.TrySetResult();
                    return;
                }
            }
        }
    }

    /// <summary>
    /// Registers, for each key <paramref name="target"/> gives to this silo, the activations the other members, the
    /// silos still draining and this silo hold.
    /// </summary>
    private async Task RecoverAsync(ConsistentHashRing target)
    {
        var self = localSilo.Address;
        if (!target.Members.Contains(self)) return;
        var request = ClusterMessages.RecoveryRequest(target.Members);
        var holdings = await Task.WhenAll(target.Members.Where(m => m != self).Concat(draining).Select(async member =>
        {
            try
            {
                var response = await transport.SendAsync(member, request, requestTimeout, CancellationToken.None).ConfigureAwait(false);
                return (Silo: member, Grains: ClusterMessages.DecodeGrainIds(response.Span));
            }
            catch (Exception e) when (e is SiloUnavailableException or TimeoutException)
            {
                // It is going or gone: what it holds is lost with it, or it re-registers by its hand-off if it lives.
                logger.LogDebug("{Silo} did not answer the directory recovery: {Reason}", member, e.Message);
                return (Silo: member, Grains: (IReadOnlyList<GrainId>)[]);
            }
        })).ConfigureAwait(false);
        var recoveredCount = 0;
        foreach (var (silo, grains) in holdings.Append((Silo: self, Grains: localActivations())))
        {
            foreach (var grainId in grains.Where(g => target.Owner(g.ToString()) == self && ring.Owner(g.ToString()) == self))
            {
                partition.Register(grainId, silo);
                recoveredCount++;
            }
        }
        if (recoveredCount > 0)
            logger.LogInformation("recovered {Count} directory registrations for the partition this silo owns on a ring of {Members}",
                recoveredCount, target.Members.Count);
    }

    private static TaskCompletionSource Completed()
    {
        var source = new TaskCompletionSource();
        source.SetResult();
        return source;
    }
}
