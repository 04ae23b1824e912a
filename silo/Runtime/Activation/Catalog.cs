using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OrleansLm.Runtime.GrainDirectory;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Invocation;
using OrleansLm.Runtime.Metrics;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Activation;

/// <summary>
/// This silo's activations: at most one per grain id (the dictionary decides among concurrent first calls), plus a
/// pool per stateless-worker id. Delivers calls that belong on this silo, collects idle activations, and
/// deactivates everything when the silo stops.
/// </summary>
internal sealed class Catalog(
    GrainClassRegistry classes,
    IServiceProvider services,
    IGrainDirectory directory,
    IRemoteGrainCallSender remote,
    IIncomingGrainCallFilter[] incomingFilters,
    GrainRuntimeOptions options,
    TimeProvider time,
    int devices,
    ILogger logger)
{
    private readonly ConcurrentDictionary<GrainId, ActivationData> activations = new();
    private readonly ConcurrentDictionary<GrainId, StatelessWorkerPool> workerPools = new();
    private readonly CancellationTokenSource stopping = new();
    private SiloAddress? localSilo;
    private volatile bool accepting;
    private int deviceActivations;

    public IServiceProvider Services => services;

    public IGrainDirectory Directory => directory;

    public IIncomingGrainCallFilter[] IncomingFilters => incomingFilters;

    public GrainRuntimeOptions Options => options;

    public TimeProvider Time => time;

    public ILogger Logger => logger;

    /// <summary>What grains reach through <see cref="Grain.GrainFactory"/>; set once the factory exists (it needs the router, which needs this).</summary>
    public IGrainFactory GrainFactory { get; set; } = null!;

    /// <summary>Counts and times the calls this catalog runs; set once with the factory.</summary>
    public GrainCallMetrics? Metrics { get; set; }

    /// <summary>This silo's address, fixed when the catalog starts.</summary>
    public SiloAddress LocalSilo => localSilo ?? throw new InvalidOperationException("the silo runtime is not started");

    /// <summary>Cancelled when the silo starts stopping; what OnActivateAsync receives.</summary>
    public CancellationToken Stopping => stopping.Token;

    public int Count => activations.Count + workerPools.Values.Sum(p => p.Workers.Length);

    /// <summary>Activations of classes that each hold one of the silo's devices.</summary>
    public int DeviceActivations => Volatile.Read(ref deviceActivations);

    public void Start(SiloAddress address)
    {
        localSilo = address;
        accepting = true;
    }

    public bool HasActivation(GrainId grainId) => activations.ContainsKey(grainId);

    /// <summary>The grains with an activation here that the grain directory knows of (stateless workers are not registered).</summary>
    public IReadOnlyList<GrainId> RegisteredGrains() => [.. activations.Keys];

    /// <summary>Deactivates this silo's activation of <paramref name="grainId"/>, if any; its waiting calls go to a fresh one.</summary>
    public void Deactivate(GrainId grainId, DeactivationReason reason)
    {
        if (activations.TryGetValue(grainId, out var activation)) activation.RequestDeactivation(reason);
    }

    /// <summary>Runs <paramref name="call"/> on this silo's activation of its grain, creating the activation if needed.</summary>
    public Task<object?> InvokeAsync(GrainCall call)
    {
        var started = Stopwatch.GetTimestamp();
        var turn = new CallTurn(call);
        Deliver(turn);
        return Metrics?.Measure(turn.Completion, call.TargetId, started) ?? turn.Completion;
    }

    /// <summary>The grain interface of every live activation, stateless workers included.</summary>
    public IEnumerable<string> ActivationTypes() => AllActivations().Select(a => a.GrainId.Type);

    /// <summary>Deactivates every activation idle for the idle timeout; returns how many.</summary>
    public async Task<int> CollectIdleAsync()
    {
        var now = time.GetTimestamp();
        var collected = AllActivations().Where(a => a.TryDeactivateIfIdle(now, options.IdleTimeout)).Select(a => a.Deactivated).ToArray();
        await Task.WhenAll(collected).ConfigureAwait(false);
        return collected.Length;
    }

    /// <summary>Stops accepting calls and deactivates every activation; calls that were waiting fail with <see cref="SiloUnavailableException"/>.</summary>
    public async Task DeactivateAllAsync(CancellationToken cancellation)
    {
        accepting = false;
        await stopping.CancelAsync().ConfigureAwait(false);
        // A delivery that passed the accepting check just before it flipped may still add one; go round until none is left.
        while (AllActivations().ToArray() is { Length: > 0 } remaining)
        {
            foreach (var activation in remaining) activation.RequestDeactivation(DeactivationReason.ShuttingDown);
            await Task.WhenAll(remaining.Select(a => a.Deactivated)).WaitAsync(cancellation).ConfigureAwait(false);
        }
    }

    /// <summary>Called by an activation leaving; the entry goes only if it is still this activation's.</summary>
    public void Remove(ActivationData activation)
    {
        if (activation.Class.RequiresDevice) Interlocked.Decrement(ref deviceActivations);
        if (activation.Pool is { } pool) pool.Remove(activation);
        else activations.TryRemove(KeyValuePair.Create(activation.GrainId, activation));
    }

    /// <summary>What waited in an activation that went away: fail it, forward it to the grain's owner, or deliver it again.</summary>
    public void Reroute(IEnumerable<TurnItem> items, Exception? failure, SiloAddress? owner)
    {
        foreach (var turn in items.OfType<CallTurn>())
        {
            if (failure is not null) turn.Fail(failure);
            else if (owner is not null) _ = ForwardAsync(turn, owner);
            else Deliver(turn);
        }
    }

    private void Deliver(CallTurn turn)
    {
        if (!accepting)
        {
            turn.Fail(localSilo is null
                ? new InvalidOperationException("the silo runtime is not started")
                : new SiloUnavailableException(localSilo, $"it is stopping (call {turn.Call})"));
            return;
        }
        GrainClass grainClass;
        try
        {
            grainClass = classes.Get(turn.Call.TargetId.Type);
        }
        catch (Exception e)
        {
            turn.Fail(e);
            return;
        }
        var refusedBy = grainClass.Placement is StatelessWorkerPlacement workers
            ? workerPools.GetOrAdd(turn.Call.TargetId, id => new StatelessWorkerPool(this, grainClass, id, workers.MaxLocalWorkers)).Deliver(turn)
            : DeliverToActivation(turn, grainClass);
        // The activation it reached is deactivating: once it has left the catalog, the call goes to a fresh one.
        refusedBy?.Deactivated.ContinueWith(_ => Deliver(turn), CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    private ActivationData? DeliverToActivation(CallTurn turn, GrainClass grainClass)
    {
        var id = turn.Call.TargetId;
        ActivationData activation;
        if (!grainClass.RequiresDevice)
        {
            activation = activations.GetOrAdd(id, static (id, state) => new ActivationData(state.Catalog, state.Class, id), (Catalog: this, Class: grainClass));
        }
        else if (!activations.TryGetValue(id, out activation!))
        {
            // A device-holding activation takes its device when it is made, so two placed at once cannot share the last one.
            if (!TryReserveDevice())
            {
                turn.Fail(new NoFreeDeviceException($"silo {LocalSilo} has no free device for {id} (all {devices} are held)"));
                return null;
            }
            var created = new ActivationData(this, grainClass, id);
            activation = activations.GetOrAdd(id, created);
            if (activation != created) Interlocked.Decrement(ref deviceActivations);
        }
        if (!activation.TryEnqueue(turn)) return activation;
        activation.EnsureStarted();
        return null;
    }

    private bool TryReserveDevice()
    {
        while (true)
        {
            var held = Volatile.Read(ref deviceActivations);
            if (held >= devices) return false;
            if (Interlocked.CompareExchange(ref deviceActivations, held + 1, held) == held) return true;
        }
    }

    private async Task ForwardAsync(CallTurn turn, SiloAddress owner)
    {
        try
        {
            turn.Succeed(await remote.SendAsync(owner, turn.Call.Forwarded()).ConfigureAwait(false));
        }
        catch (Exception e)
        {
            turn.Fail(e);
        }
    }

    private IEnumerable<ActivationData> AllActivations() => activations.Values.Concat(workerPools.Values.SelectMany(p => p.Workers));
}
