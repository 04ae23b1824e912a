using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Hosting;
using Xunit.Abstractions;

namespace OrleansLm.Testing.Processes;

/// <summary>
/// Silo processes of one cluster (each started from a <see cref="SiloLaunch"/> naming <see cref="ClusterId"/> and
/// <see cref="Secret"/>), plus optionally a silo in the test process that calls their grains. Disposing kills every
/// process still running.
/// </summary>
public sealed class ProcessCluster(ITestOutputHelper output) : IAsyncDisposable
{
    public const string Secret = "process-cluster-secret";

    private static readonly TimeSpan CallerSeesEveryone = TimeSpan.FromSeconds(20);

    private readonly List<SiloProcess> processes = [];
    private readonly TestOutputLoggerProvider callerLog = new(output, "caller");
    private int started;

    public string ClusterId { get; } = $"processes-{Guid.NewGuid():N}";

    /// <summary>The processes in the order they were started; a restarted one takes its predecessor's place.</summary>
    public IReadOnlyList<SiloProcess> Processes
    {
        get
        {
            lock (processes)
                return [.. processes];
        }
    }

    public ClusterSilo? Caller { get; private set; }

    /// <summary>Every line the test's silos (<see cref="StartCallerAsync"/>) have logged so far, one after another.</summary>
    public IReadOnlyCollection<string> CallerLines => callerLog.Lines;

    public async Task<SiloProcess> StartProcessAsync(SiloLaunch launch)
    {
        var silo = await SiloProcess.StartAsync(output, NextName(), launch);
        lock (processes)
            processes.Add(silo);
        return silo;
    }

    /// <summary>
    /// SIGKILLs <paramref name="process"/> if it still runs and starts a new silo process the same way in its place
    /// (a new silo: new generation, and a new port where the launch listens on port 0).
    /// </summary>
    public async Task<SiloProcess> RestartAsync(SiloProcess process)
    {
        int index;
        lock (processes)
            index = processes.IndexOf(process) is >= 0 and var found
                ? found
                : throw new ArgumentException($"{process.Name} is not a process of this cluster", nameof(process));
        await process.DisposeAsync();
        var successor = await SiloProcess.StartAsync(output, NextName(), process.Launch);
        lock (processes)
            processes[index] = successor;
        return successor;
    }

    /// <summary>
    /// Starts the test's own silo and waits until it sees every running process Active, then until their views have
    /// caught up with its join.
    /// </summary>
    public async Task<ClusterSilo> StartCallerAsync(ClusterSiloOptions options, Action<IGrainRuntimeBuilder> configureGrains)
    {
        Caller = new ClusterSilo(options, configureGrains, callerLog.CreateFactory());
        await Caller.StartAsync(CancellationToken.None);
        var running = Processes.Count(p => !p.HasExited);
        await Eventually.HoldsAsync(
            () => Caller.Membership.ActiveMembers.Count == running + 1, CallerSeesEveryone, "the caller sees every silo process Active");
        // The processes learn of the caller's join at their next table refresh; until then their directory rings
        // disagree with the caller's, and a grain placed meanwhile may be activated twice (the hand-off later removes
        // one). Tests count activations, so they start once every view has caught up.
        await Task.Delay(options.Membership.TableRefreshPeriod * 3);
        return Caller;
    }

    public async ValueTask DisposeAsync()
    {
        if (Caller is not null)
            await Caller.DisposeAsync();
        foreach (var process in Processes)
            await process.DisposeAsync();
    }

    private string NextName() => $"silo{Interlocked.Increment(ref started) - 1}";
}
