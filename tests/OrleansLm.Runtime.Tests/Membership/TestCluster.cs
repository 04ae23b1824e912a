using System.Collections.Concurrent;
using OrleansLm.Runtime.Membership;
using OrleansLm.Testing;
using Xunit.Abstractions;

namespace OrleansLm.Runtime.Tests.Membership;

/// <summary>How a probe of a silo fails when the test cuts it off.</summary>
public enum ProbeFailure
{
    /// <summary>The probe throws at once, as a refused connection.</summary>
    Refused,

    /// <summary>The probe never completes and ignores its cancellation: only the service's own timeout ends it.</summary>
    Hangs,
}

/// <summary>
/// Membership services on loopback addresses with fake probes: the test decides which prober can reach which silo.
/// Periods are short (100 ms) so failure detection runs in about a second.
/// </summary>
public sealed class TestCluster(ITestOutputHelper output, Func<IMembershipTable> tableForSilo) : IAsyncDisposable
{
    public static readonly MembershipOptions FastOptions = new()
    {
        ProbePeriod = TimeSpan.FromMilliseconds(100),
        ProbeTimeout = TimeSpan.FromMilliseconds(100),
        NumMissedProbesLimit = 3,
        NumVotesForDeathDeclaration = 2,
        NumProbedSilos = 2,
        IAmAlivePeriod = TimeSpan.FromMilliseconds(100),
        TableRefreshPeriod = TimeSpan.FromMilliseconds(100),
        DeathVoteExpiration = TimeSpan.FromSeconds(10),
    };

    private readonly ConcurrentDictionary<(SiloAddress Prober, SiloAddress Target), ProbeFailure> cuts = new();
    private readonly List<TestSilo> silos = [];

    public MembershipOptions Options { get; init; } = FastOptions;

    public IReadOnlyList<TestSilo> Silos => silos;

    public static SiloAddress Address(int port, long generation = 1) => new("127.0.0.1", port, generation);

    /// <summary>A silo on 127.0.0.1:<paramref name="port"/>, not yet joined.</summary>
    public TestSilo Add(int port, long generation = 1, Func<CancellationToken, Task>? drainAsync = null)
    {
        var silo = new TestSilo(this, Address(port, generation), tableForSilo(), drainAsync ?? (_ => Task.CompletedTask));
        silos.Add(silo);
        return silo;
    }

    public async Task<IReadOnlyList<TestSilo>> StartAsync(params int[] ports)
    {
        var started = ports.Select(port => Add(port)).ToList();
        await Task.WhenAll(started.Select(silo => silo.Service.JoinAsync(CancellationToken.None)));
        return started;
    }

    /// <summary>Every other silo's probes of <paramref name="target"/> fail.</summary>
    public void Isolate(TestSilo target, ProbeFailure failure = ProbeFailure.Refused)
    {
        foreach (var prober in silos.Where(s => s != target))
            Cut(prober, target, failure);
    }

    public void Cut(TestSilo prober, TestSilo target, ProbeFailure failure = ProbeFailure.Refused) =>
        cuts[(prober.Address, target.Address)] = failure;

    public void Heal(TestSilo prober, TestSilo target) => cuts.TryRemove((prober.Address, target.Address), out _);

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in silos)
            await silo.DisposeAsync();
    }

    internal Func<SiloAddress, TimeSpan, CancellationToken, Task> ProbesFrom(TestSilo prober) => (target, _, cancellation) =>
    {
        Interlocked.Increment(ref prober.ProbesSent);
        return cuts.TryGetValue((prober.Address, target), out var failure)
            ? failure == ProbeFailure.Refused
                ? Task.FromException(new SiloUnavailableException(target, "cut off by the test"))
                : new TaskCompletionSource().Task
            : Task.CompletedTask;
    };

    internal TestOutputLogger<MembershipService> LoggerFor(SiloAddress silo) => new(output, $"silo:{silo.Port}");
}

/// <summary>One silo's membership service and what it reported.</summary>
public sealed class TestSilo : IAsyncDisposable
{
    internal int ProbesSent;
    private readonly IMembershipTable table;

    internal TestSilo(TestCluster cluster, SiloAddress address, IMembershipTable table, Func<CancellationToken, Task> drainAsync)
    {
        Address = address;
        this.table = table;
        Service = new MembershipService(
            table,
            new LocalSiloDetails(address, ["worker"], devices: 1, hostName: $"host-{address.Port}"),
            cluster.Options,
            cluster.ProbesFrom(this),
            () => DeclaredDead.TrySetResult(),
            drainAsync,
            TimeProvider.System,
            cluster.LoggerFor(address));
        Service.ViewChanged += change => Changes.Enqueue(change);
    }

    public SiloAddress Address { get; }

    public MembershipService Service { get; }

    public TaskCompletionSource DeclaredDead { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ConcurrentQueue<MembershipViewChange> Changes { get; } = new();

    /// <summary>The status this silo's own view gives <paramref name="silo"/>.</summary>
    public SiloStatus? Sees(TestSilo silo) => Service.View.EntryOf(silo.Address)?.Status;

    /// <summary>Status changes of <paramref name="silo"/> in the order this silo's view reported them.</summary>
    public IEnumerable<SiloStatus> ReportedStatusesOf(TestSilo silo) =>
        Changes.SelectMany(c => c.Changes).Where(c => c.Silo == silo.Address).Select(c => c.Current);

    public async Task<MembershipEntry> RowAsync() =>
        (await table.ReadAllAsync(CancellationToken.None)).Entries.Single(e => e.Entry.Silo == Address).Entry;

    public async ValueTask DisposeAsync()
    {
        await Service.DisposeAsync();
        if (table is IAsyncDisposable disposable)
            await disposable.DisposeAsync();
    }
}
