using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;

namespace OrleansLm.Runtime.Membership;

/// <summary>
/// One silo's membership agent, with the semantics of Orleans' membership oracle. It joins (Joining, then Active),
/// then runs three loops until it leaves or is disposed: an IAmAlive heartbeat; a table refresh that publishes the
/// view; and probes of its <see cref="MembershipOptions.NumProbedSilos"/> successors on a ring of the active silos.
/// After <see cref="MembershipOptions.NumMissedProbesLimit"/> consecutive missed probes it votes the target suspect
/// in the target's row; the vote that completes <see cref="MembershipOptions.NumVotesForDeathDeclaration"/> fresh
/// votes from distinct silos (or a majority of the active silos, in a smaller cluster) marks the target Dead. Every
/// write is conditional on the table version, so concurrent voters and joiners never lose each other's writes. A
/// silo that reads itself Dead (or finds its row gone) calls <c>onDeclaredDead</c> and stops: the rest of the cluster
/// has already moved its grains, so it must not serve them any more. A silo that can reach neither the table nor
/// any silo it probes stops the same way (see <see cref="IsCutOff"/>): it could never read that verdict.
/// </summary>
public sealed class MembershipService : IAsyncDisposable
{
    private const int StatusWriteAttempts = 30;
    private const int VoteWriteAttempts = 3;
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(1);

    private readonly IMembershipTable table;
    private readonly ILocalSiloDetails local;
    private readonly MembershipOptions options;
    private readonly Func<SiloAddress, TimeSpan, CancellationToken, Task> probe;
    private readonly Action onDeclaredDead;
    private readonly Func<CancellationToken, Task> drainAsync;
    private readonly TimeProvider clock;
    private readonly ILogger logger;

    // Never disposed: it has no timer, and a late refresh by the runtime may still cancel it.
    private readonly CancellationTokenSource stopping = new();
    private readonly Lock viewGate = new();
    private readonly Dictionary<SiloAddress, int> missedProbes = []; // the probe loop's alone
    private volatile MembershipView view = MembershipView.Empty;
    private Task loops = Task.CompletedTask;
    private int phase = (int)Phase.Created;
    private int declaredDead;
    private volatile bool wroteOwnDeath;
    // When the oldest table read still unanswered began (0: none since the last answer). A read that fails keeps
    // it, so this measures how long the table has not answered, not how long since a read was last tried: a
    // process stalled by its host tries nothing for a while, and must not mistake that for a lost table.
    private long unansweredSinceTicks;

    /// <param name="probe">A round trip to a silo (the transport's ping): it throws, or outlasts the timeout, when the silo does not answer.</param>
    /// <param name="onDeclaredDead">
    /// Called once when the table says this silo is dead; the host must stop the process. It runs on a membership
    /// loop, so it must not wait for this service's disposal.
    /// </param>
    /// <param name="drainAsync">Called by <see cref="LeaveAsync"/> while this silo is ShuttingDown: finish or hand off activations.</param>
    public MembershipService(
        IMembershipTable table,
        ILocalSiloDetails local,
        MembershipOptions options,
        Func<SiloAddress, TimeSpan, CancellationToken, Task> probe,
        Action onDeclaredDead,
        Func<CancellationToken, Task> drainAsync,
        TimeProvider clock,
        ILogger<MembershipService> logger)
    {
        options.Validate();
        if (local.Devices < 0)
            throw new ArgumentException($"{nameof(LocalSiloDetails)}.{nameof(local.Devices)} must not be negative, not {local.Devices}", nameof(local));
        this.table = table;
        this.local = local;
        this.options = options;
        this.probe = probe;
        this.onDeclaredDead = onDeclaredDead;
        this.drainAsync = drainAsync;
        this.clock = clock;
        this.logger = logger;
    }

    private enum Phase
    {
        Created,
        Joining,
        Active,
        Leaving,
        Stopped,
    }

    /// <summary>
    /// Raised, in table-version order, when a newer read changes some silo's status. Handlers run under the view's
    /// lock on whichever thread read the table (usually a membership loop): keep them short and never block on this service.
    /// </summary>
    public event Action<MembershipViewChange>? ViewChanged;

    public SiloAddress Silo => local.Address;

    /// <summary>The latest table read.</summary>
    public MembershipView View => view;

    public IReadOnlyList<MembershipEntry> ActiveMembers => view.ActiveMembers;

    /// <summary>True once the table declared this silo dead; it no longer takes part in the cluster.</summary>
    public bool IsDeclaredDead => Volatile.Read(ref declaredDead) == 1;

    /// <summary>Creates the table if needed, retires older incarnations of this endpoint, joins as Active and starts the loops.</summary>
    public async Task JoinAsync(CancellationToken cancellation)
    {
        MoveTo(Phase.Joining, from: Phase.Created);
        using var joining = CancellationTokenSource.CreateLinkedTokenSource(cancellation, stopping.Token);
        await table.InitializeAsync(joining.Token);
        await DeclareOlderIncarnationsDeadAsync(joining.Token);
        await WriteOwnStatusAsync(SiloStatus.Joining, joining.Token);
        await WriteOwnStatusAsync(SiloStatus.Active, joining.Token);
        MoveTo(Phase.Active, from: Phase.Joining);
        loops = Task.WhenAll(
            RunPeriodicallyAsync("IAmAlive heartbeat", options.IAmAlivePeriod,
                token => table.UpdateIAmAliveAsync(local.Address, clock.GetUtcNow(), token)),
            RunPeriodicallyAsync("table refresh", options.TableRefreshPeriod, RefreshAsync),
            RunPeriodicallyAsync("probing", options.ProbePeriod, ProbeSuccessorsAsync));
    }

    /// <summary>How long a leave whose own time is up still tries to write its Dead row.</summary>
    public static readonly TimeSpan LastWriteTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Leaves gracefully: ShuttingDown (no new placements), the drain hook, then Dead, and stops the loops. Others
    /// learn of it at their next refresh instead of after missed probes. A drain cancelled by
    /// <paramref name="cancellation"/> still ends in a Dead row, written within <see cref="LastWriteTimeout"/>.
    /// </summary>
    public async Task LeaveAsync(CancellationToken cancellation)
    {
        if (IsDeclaredDead)
        {
            // The cluster has already moved this silo's grains; there is nothing left to hand off.
            await StopLoopsAsync();
            return;
        }
        MoveTo(Phase.Leaving, from: Phase.Active);
        try
        {
            await WriteOwnStatusAsync(SiloStatus.ShuttingDown, cancellation);
            try
            {
                await drainAsync(cancellation);
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                // The stop's time is up (the host's shutdown timeout): leave anyway. What was not handed off
                // re-activates elsewhere on its next call, as after a crash, but nobody waits for a failure detection.
                logger.LogWarning("{Silo} ran out of time draining its activations; leaving with some still here", local.Address);
            }
            wroteOwnDeath = true;
            using var lastWrite = new CancellationTokenSource(LastWriteTimeout);
            await WriteOwnStatusAsync(SiloStatus.Dead, cancellation.IsCancellationRequested ? lastWrite.Token : cancellation);
        }
        finally
        {
            await StopLoopsAsync();
        }
    }

    /// <summary>Reads the table now and publishes what changed (the runtime may call it when a call to a silo fails).</summary>
    public async Task RefreshAsync(CancellationToken cancellation)
    {
        var snapshot = await ReadTableAsync(cancellation);
        Publish(snapshot);
    }

    /// <summary>Stops the loops without touching the table: to the others this is a crash, detected by probes.</summary>
    public async ValueTask DisposeAsync() => await StopLoopsAsync();

    /// <summary>
    /// The silos a silo probes: its next <paramref name="count"/> successors on a ring of the active silos ordered by a
    /// hash of their addresses, so probers are spread over hosts and every silo is probed by as many others.
    /// </summary>
    internal static IReadOnlyList<SiloAddress> RingSuccessors(IEnumerable<SiloAddress> active, SiloAddress self, int count)
    {
        var ring = active.Append(self).Distinct().OrderBy(RingPosition).ThenBy(silo => silo.ToString(), StringComparer.Ordinal).ToList();
        var position = ring.IndexOf(self);
        return [.. Enumerable.Range(1, Math.Min(count, ring.Count - 1)).Select(step => ring[(position + step) % ring.Count])];
    }

    private static ulong RingPosition(SiloAddress silo) =>
        BinaryPrimitives.ReadUInt64LittleEndian(SHA256.HashData(Encoding.UTF8.GetBytes(silo.ToString())));

    private async Task ProbeSuccessorsAsync(CancellationToken cancellation)
    {
        if ((Phase)Volatile.Read(ref phase) != Phase.Active)
            return;
        var targets = RingSuccessors(view.ActiveMembers.Select(m => m.Silo), local.Address, options.NumProbedSilos);
        foreach (var gone in missedProbes.Keys.Except(targets).ToList())
            missedProbes.Remove(gone);

        var answered = await Task.WhenAll(targets.Select(target => ProbeAsync(target, cancellation)));
        for (var i = 0; i < targets.Count; i++)
            missedProbes[targets[i]] = answered[i] ? 0 : missedProbes.GetValueOrDefault(targets[i]) + 1;
        if (IsCutOff(targets))
            return;
        foreach (var target in targets.Where(t => missedProbes[t] >= options.NumMissedProbesLimit))
            await SuspectAsync(target, missedProbes[target], cancellation);
    }

    /// <summary>
    /// A silo that reaches neither any silo it probes nor the membership table cannot tell whether it or they are
    /// cut off, and cannot write the table to find out. If the others still run, they are declaring it dead now and
    /// moving its grains (their missed probes of it accrue as its own of them do), so it stops before it serves a
    /// grain twice: the rule that keeps a partitioned silo from split brain when the table is out of its reach too.
    /// </summary>
    private bool IsCutOff(IReadOnlyList<SiloAddress> targets)
    {
        if (targets.Count == 0 || targets.Any(t => missedProbes[t] < options.NumMissedProbesLimit))
            return false;
        var since = Interlocked.Read(ref unansweredSinceTicks);
        if (since == 0)
            return false;
        var tableSilence = clock.GetUtcNow() - new DateTimeOffset(since, TimeSpan.Zero);
        if (tableSilence < options.ProbePeriod * options.NumMissedProbesLimit)
            return false;
        StopAsDeclaredDead(
            $"it reached none of the {targets.Count} silos it probes in {options.NumMissedProbesLimit} probes, and the membership table has not answered for {tableSilence.TotalSeconds:F1} s");
        return true;
    }

    private async Task<MembershipSnapshot> ReadTableAsync(CancellationToken cancellation)
    {
        Interlocked.CompareExchange(ref unansweredSinceTicks, clock.GetUtcNow().UtcTicks, 0);
        var snapshot = await table.ReadAllAsync(cancellation);
        Interlocked.Exchange(ref unansweredSinceTicks, 0);
        return snapshot;
    }

    private async Task<bool> ProbeAsync(SiloAddress target, CancellationToken cancellation)
    {
        // The timeout is both handed to the probe and enforced here, in case the probe ignores it.
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        timeout.CancelAfter(options.ProbeTimeout);
        try
        {
            await probe(target, options.ProbeTimeout, timeout.Token).WaitAsync(options.ProbeTimeout, clock, cancellation);
            return true;
        }
        catch (Exception e) when (!cancellation.IsCancellationRequested)
        {
            logger.LogDebug("probe of {Target} failed: {Error}", target, e.Message);
            return false;
        }
    }

    private async Task SuspectAsync(SiloAddress target, int missed, CancellationToken cancellation)
    {
        if (!await TryWriteAsync(snapshot => VoteAgainst(snapshot, target, missed), VoteWriteAttempts, cancellation))
            logger.LogWarning("could not record a vote against {Target}: the table kept changing; the next missed probe retries", target);
    }

    /// <summary>Adds this silo's vote to the target's row, or marks it Dead when this vote completes the count.</summary>
    private RowWrite? VoteAgainst(MembershipSnapshot snapshot, SiloAddress target, int missed)
    {
        var row = snapshot.Entries.FirstOrDefault(e => e.Entry.Silo == target);
        if (row is null || row.Entry.Status == SiloStatus.Dead)
            return null;

        var now = clock.GetUtcNow();
        var liveVoters = snapshot.Entries.Where(e => e.Entry.Status != SiloStatus.Dead).Select(e => e.Entry.Silo).ToHashSet();
        var othersFreshVotes = row.Entry.Suspicions
            .Where(vote => vote.Voter != local.Address && liveVoters.Contains(vote.Voter) && now - vote.Time < options.DeathVoteExpiration)
            .DistinctBy(vote => vote.Voter)
            .ToList();
        var votes = othersFreshVotes.Count + 1;
        var activeSilos = snapshot.Entries.Count(e => e.Entry.Status == SiloStatus.Active);
        var needed = Math.Max(1, Math.Min(options.NumVotesForDeathDeclaration, (activeSilos + 1) / 2));

        Suspicion[] suspicions = [.. othersFreshVotes, new Suspicion(local.Address, now)];
        var tally = $"after {missed} missed probes ({votes} of {needed} votes)";
        return votes >= needed
            ? new RowWrite(row.Entry with { Status = SiloStatus.Dead, Suspicions = suspicions }, row.ETag,
                LogLevel.Warning, $"declared {target} dead {tally}")
            : new RowWrite(row.Entry with { Suspicions = suspicions }, row.ETag, LogLevel.Warning, $"voted {target} suspect {tally}");
    }

    private Task WriteOwnStatusAsync(SiloStatus status, CancellationToken cancellation) =>
        WriteOrThrowAsync(snapshot => OwnStatusChange(snapshot, status), $"set this silo {status}", cancellation);

    private RowWrite? OwnStatusChange(MembershipSnapshot snapshot, SiloStatus status)
    {
        var mine = snapshot.Entries.FirstOrDefault(e => e.Entry.Silo == local.Address);
        var now = clock.GetUtcNow();
        if (mine is null)
        {
            return status == SiloStatus.Joining
                ? new RowWrite(
                    new MembershipEntry(local.Address, status, local.HostName, now, now, [], local.Roles, local.Devices),
                    ETag: null, LogLevel.Information, $"{local.Address} is {status}")
                : throw new InvalidOperationException($"the membership row of {local.Address} vanished before it could become {status}");
        }
        if (mine.Entry.Status == SiloStatus.Dead && status != SiloStatus.Dead)
            throw new InvalidOperationException($"{local.Address} cannot become {status}: the cluster has declared it dead");
        // A status only moves forward; an earlier attempt whose reply was lost may already have written it.
        return mine.Entry.Status >= status
            ? null
            : new RowWrite(mine.Entry with { Status = status, IAmAliveTime = now }, mine.ETag, LogLevel.Information, $"{local.Address} is {status}");
    }

    private async Task DeclareOlderIncarnationsDeadAsync(CancellationToken cancellation)
    {
        // A restart on the same endpoint supersedes the old incarnation at once instead of after missed probes.
        var snapshot = await ReadTableAsync(cancellation);
        var older = snapshot.Entries
            .Select(e => e.Entry.Silo)
            .Where(silo => silo.Host == local.Address.Host && silo.Port == local.Address.Port && silo.Generation < local.Address.Generation);
        foreach (var silo in older)
        {
            await WriteOrThrowAsync(
                current => current.Entries.FirstOrDefault(e => e.Entry.Silo == silo) is { Entry.Status: not SiloStatus.Dead } row
                    ? new RowWrite(row.Entry with { Status = SiloStatus.Dead }, row.ETag, LogLevel.Information,
                        $"declared {silo} dead: superseded by {local.Address}")
                    : null,
                $"retire {silo}",
                cancellation);
        }
    }

    private async Task WriteOrThrowAsync(Func<MembershipSnapshot, RowWrite?> change, string what, CancellationToken cancellation)
    {
        if (!await TryWriteAsync(change, StatusWriteAttempts, cancellation))
            throw new InvalidOperationException($"could not {what}: {StatusWriteAttempts} conditional writes lost to concurrent writers");
    }

    /// <summary>
    /// Reads the table, asks <paramref name="change"/> what to write (null: nothing) and writes it conditionally on
    /// what was read; another writer's win means read again, after a short random delay so contenders spread out.
    /// </summary>
    private async Task<bool> TryWriteAsync(Func<MembershipSnapshot, RowWrite?> change, int attempts, CancellationToken cancellation)
    {
        for (var attempt = 1; ; attempt++)
        {
            var snapshot = await ReadTableAsync(cancellation);
            Publish(snapshot);
            if (change(snapshot) is not { } write)
                return true;
            var next = snapshot.Version.Next();
            var written = write.ETag is null
                ? await table.InsertRowAsync(write.Entry, next, cancellation)
                : await table.UpdateRowAsync(write.Entry, write.ETag, next, cancellation);
            if (written)
            {
                logger.Log(write.Level, "membership: {Change}", write.Description);
                await RefreshAsync(cancellation);
                return true;
            }
            if (attempt == attempts)
                return false;
            var ceiling = Math.Min(MaxRetryDelay.TotalMilliseconds, 10 * Math.Pow(2, attempt));
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.NextDouble() * ceiling), clock, cancellation);
        }
    }

    /// <summary>Makes <paramref name="snapshot"/> the view unless a newer one already is, and reacts to this silo's own row.</summary>
    private void Publish(MembershipSnapshot snapshot)
    {
        MembershipView current;
        lock (viewGate)
        {
            if (snapshot.Version.Version >= view.Version)
            {
                var previous = view;
                view = new MembershipView(snapshot.Version.Version, [.. snapshot.Entries.Select(e => e.Entry)]);
                var changes = view.ChangesSince(previous);
                if (changes.Count > 0)
                    RaiseViewChanged(new MembershipViewChange(previous, view, changes));
            }
            current = view;
        }
        CheckOwnRow(current);
    }

    private void RaiseViewChanged(MembershipViewChange change)
    {
        foreach (var handler in ViewChanged?.GetInvocationList().Cast<Action<MembershipViewChange>>() ?? [])
        {
            try
            {
                handler(change);
            }
            catch (Exception e)
            {
                logger.LogError(e, "a membership view change handler failed");
            }
        }
    }

    private void CheckOwnRow(MembershipView current)
    {
        var status = (Phase)Volatile.Read(ref phase);
        if (wroteOwnDeath || status is Phase.Created or Phase.Stopped)
            return;
        var mine = current.EntryOf(local.Address);
        if (mine?.Status == SiloStatus.Dead)
            StopAsDeclaredDead("the membership table marks it Dead");
        else if (mine is null && status is Phase.Active or Phase.Leaving)
            StopAsDeclaredDead("its membership row vanished");
    }

    private void StopAsDeclaredDead(string reason)
    {
        if (Interlocked.Exchange(ref declaredDead, 1) == 1)
            return;
        logger.LogCritical("{Silo} was declared dead by the cluster ({Reason}): it stops taking part", local.Address, reason);
        stopping.Cancel();
        try
        {
            onDeclaredDead();
        }
        catch (Exception e)
        {
            logger.LogError(e, "the declared-dead callback failed");
        }
    }

    private async Task RunPeriodicallyAsync(string what, TimeSpan period, Func<CancellationToken, Task> work)
    {
        using var timer = new PeriodicTimer(period, clock);
        try
        {
            while (await timer.WaitForNextTickAsync(stopping.Token))
            {
                try
                {
                    await work(stopping.Token);
                }
                catch (Exception e) when (!stopping.IsCancellationRequested)
                {
                    logger.LogWarning(e, "membership {What} failed; retrying in {Period}", what, period);
                }
            }
        }
        catch (Exception) when (stopping.IsCancellationRequested)
        {
            // Stopping cancels whatever the loop was doing; a table client may report that as its own exception type.
        }
    }

    private async Task StopLoopsAsync()
    {
        stopping.Cancel();
        await loops;
        Volatile.Write(ref phase, (int)Phase.Stopped);
    }

    private void MoveTo(Phase next, Phase from)
    {
        if (IsDeclaredDead)
            throw new InvalidOperationException($"{local.Address} was declared dead by the cluster; it cannot become {next}");
        var was = (Phase)Interlocked.CompareExchange(ref phase, (int)next, (int)from);
        if (was != from)
            throw new InvalidOperationException($"{local.Address} cannot go from {was} to {next} (only from {from})");
    }

    /// <summary>A conditional write: an insert when <paramref name="ETag"/> is null, else an update of the row read with that etag.</summary>
    private sealed record RowWrite(MembershipEntry Entry, string? ETag, LogLevel Level, string Description);
}
