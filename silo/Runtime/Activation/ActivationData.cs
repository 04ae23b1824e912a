using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Activation;

internal enum ActivationState
{
    /// <summary>In the catalog, not started yet (calls may already wait).</summary>
    Created,

    /// <summary>Registering in the directory, constructing the grain, running OnActivateAsync; calls wait.</summary>
    Activating,

    /// <summary>Serving calls.</summary>
    Valid,

    /// <summary>Refusing new work, finishing running turns, then running OnDeactivateAsync; newcomers wait for <see cref="ActivationData.Deactivated"/>.</summary>
    Deactivating,

    /// <summary>Gone from the catalog; what waited in its mailbox was rerouted.</summary>
    Invalid,
}

/// <summary>
/// One activation of a grain on this silo: its mailbox and life cycle. Turns (calls, timer ticks, activation and
/// deactivation) run on the activation's own <see cref="ActivationTaskScheduler"/>. A non-reentrant activation
/// admits a turn only when none is running, so a call holds the activation across its awaits; a reentrant one
/// admits every turn at once and they interleave at awaits. The mailbox state is guarded by one lock, which makes
/// "idle, so deactivate" and "admit this call" mutually exclusive: a call never lands in an activation that is
/// deactivating, it waits for the deactivation to finish and goes to a fresh one.
/// </summary>
internal sealed class ActivationData
{
    [ThreadStatic] private static ActivationData? constructing;

    private readonly Lock gate = new();
    private readonly Queue<TurnItem> waiting = new();
    private readonly List<GrainTimer> timers = [];
    private readonly TaskCompletionSource deactivated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ActivationState state;
    private int running;
    private long lastUsed;
    private long keepAliveUntil;
    private DeactivationReason? requestedDeactivation;
    private DeactivationReason deactivationReason;
    private AsyncServiceScope? scope;

    public ActivationData(Catalog catalog, GrainClass grainClass, GrainId grainId, StatelessWorkerPool? pool = null)
    {
        Catalog = catalog;
        Class = grainClass;
        GrainId = grainId;
        Pool = pool;
    }

    /// <summary>The activation whose grain is being constructed on this thread; read by <see cref="Grain"/>'s constructor.</summary>
    internal static ActivationData? Constructing => constructing;

    public Catalog Catalog { get; }

    public GrainClass Class { get; }

    public GrainId GrainId { get; }

    /// <summary>The pool a stateless worker belongs to; null for a grain's single activation.</summary>
    public StatelessWorkerPool? Pool { get; }

    public Grain? Instance { get; private set; }

    /// <summary>Completes once the activation left the catalog (after deactivating, or after failing to activate).</summary>
    public Task Deactivated => deactivated.Task;

    /// <summary>Turns running or waiting: how busy a stateless worker is.</summary>
    public int Load
    {
        get
        {
            lock (gate) return running + waiting.Count;
        }
    }

    private ActivationTaskScheduler Scheduler { get; } = new();

    /// <summary>Admits <paramref name="item"/> (starting it now or queueing it), or refuses it because the activation is deactivating.</summary>
    public bool TryEnqueue(TurnItem item)
    {
        lock (gate)
        {
            if (state >= ActivationState.Deactivating) return false;
            if (item.KeepsAlive) lastUsed = Catalog.Time.GetTimestamp();
            if (state != ActivationState.Valid || waiting.Count > 0 || !CanStartTurn())
            {
                waiting.Enqueue(item);
                return true;
            }
            running++;
        }
        StartTurn(item);
        return true;
    }

    /// <summary>Starts activating, once: registration, construction, OnActivateAsync, then the waiting calls.</summary>
    public void EnsureStarted()
    {
        lock (gate)
        {
            if (state != ActivationState.Created) return;
            state = ActivationState.Activating;
            lastUsed = Catalog.Time.GetTimestamp();
        }
        RunOnScheduler(ActivateAsync);
    }

    /// <summary>Deactivates after the running turns (immediately when none runs); during activation, right after it.</summary>
    public void RequestDeactivation(DeactivationReason reason)
    {
        lock (gate)
        {
            if (state is ActivationState.Created or ActivationState.Activating)
            {
                requestedDeactivation ??= reason;
                return;
            }
            if (state != ActivationState.Valid || !BeginDeactivating(reason)) return;
        }
        RunOnScheduler(DeactivateAsync);
    }

    /// <summary>The idle collector's test-and-act: deactivates if no turn ran or waited for <paramref name="idleTimeout"/> before <paramref name="now"/>.</summary>
    public bool TryDeactivateIfIdle(long now, TimeSpan idleTimeout)
    {
        lock (gate)
        {
            if (state != ActivationState.Valid || running > 0 || waiting.Count > 0 || Catalog.Time.GetElapsedTime(lastUsed, now) < idleTimeout
                || now < keepAliveUntil)
                return false;
            BeginDeactivating(DeactivationReason.IdleTimeout);
        }
        RunOnScheduler(DeactivateAsync);
        return true;
    }

    public void DelayDeactivation(TimeSpan period)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(period, TimeSpan.Zero);
        var until = Catalog.Time.GetTimestamp() + (long)(period.TotalSeconds * Catalog.Time.TimestampFrequency);
        lock (gate)
            keepAliveUntil = Math.Max(keepAliveUntil, until);
    }

    public IDisposable RegisterTimer(Func<object?, Task> callback, object? callbackState, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new GrainTimer(this, callback, callbackState, dueTime, period);
        bool accepted;
        lock (gate)
        {
            accepted = state < ActivationState.Deactivating;
            if (accepted) timers.Add(timer);
        }
        // One registered while going away (e.g. from OnDeactivateAsync) would never tick.
        if (accepted) timer.Start();
        else timer.Dispose();
        return timer;
    }

    public void RemoveTimer(GrainTimer timer)
    {
        lock (gate) timers.Remove(timer);
    }

    public override string ToString() => $"activation of {GrainId}";

    private bool CanStartTurn() => running == 0 || Class.IsReentrant;

    /// <summary>Under the lock: moves to Deactivating; true when the deactivation turn should start now (no turn running).</summary>
    private bool BeginDeactivating(DeactivationReason reason)
    {
        state = ActivationState.Deactivating;
        deactivationReason = reason;
        return running == 0;
    }

    /// <summary>Under the lock: takes the waiting turns that may start now, counting them as running.</summary>
    private List<TurnItem>? TakeStartable()
    {
        List<TurnItem>? startable = null;
        while (waiting.Count > 0 && CanStartTurn())
        {
            running++;
            (startable ??= []).Add(waiting.Dequeue());
        }
        return startable;
    }

    private void StartTurn(TurnItem item) => RunOnScheduler(() => RunTurnAsync(item));

    private void StartTurns(List<TurnItem>? items)
    {
        if (items is null) return;
        foreach (var item in items) StartTurn(item);
    }

    /// <summary>Starts <paramref name="work"/> as a task of this activation's scheduler; its awaits resume there too.</summary>
    private void RunOnScheduler(Func<Task> work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.DenyChildAttach, Scheduler);

    private async Task RunTurnAsync(TurnItem item)
    {
        await item.RunAsync(this);
        List<TurnItem>? next = null;
        var deactivate = false;
        lock (gate)
        {
            running--;
            if (item.KeepsAlive) lastUsed = Catalog.Time.GetTimestamp();
            if (state == ActivationState.Valid) next = TakeStartable();
            else if (state == ActivationState.Deactivating) deactivate = running == 0;
        }
        // The caller sees its result only after the bookkeeping, so e.g. DeactivateOnIdle has taken effect when the call returns.
        item.Publish();
        StartTurns(next);
        if (deactivate) await DeactivateAsync();
    }

    private async Task ActivateAsync()
    {
        var registered = false;
        SiloAddress? owner = null;
        try
        {
            if (!Class.IsStatelessWorker)
            {
                var winner = await Catalog.Directory.RegisterAsync(GrainId, Catalog.LocalSilo, Catalog.Stopping);
                registered = winner == Catalog.LocalSilo;
                if (!registered) owner = winner;
            }
            if (owner is null)
            {
                var services = Catalog.Services.CreateAsyncScope();
                scope = services;
                constructing = this;
                try
                {
                    Instance = Class.Create(services.ServiceProvider);
                }
                finally
                {
                    constructing = null;
                }
                await Instance.OnActivateAsync(Catalog.Stopping);
            }
        }
        catch (Exception e)
        {
            Catalog.Logger.LogWarning(e, "activating {Grain} failed", GrainId);
            await LeaveAsync(unregister: registered, failure: e, owner: null);
            return;
        }
        if (owner is not null)
        {
            // Another silo registered the grain first: it owns the only activation, so the calls waiting here go there.
            await LeaveAsync(unregister: false, failure: null, owner: owner);
            return;
        }

        List<TurnItem>? startable;
        var deactivateNow = false;
        lock (gate)
        {
            state = ActivationState.Valid;
            startable = TakeStartable();
            // Requested during activation: the calls admitted meanwhile are served first, later ones go to a fresh activation.
            if (requestedDeactivation is { } reason) deactivateNow = BeginDeactivating(reason);
        }
        StartTurns(startable);
        if (deactivateNow) await DeactivateAsync();
    }

    /// <summary>Runs as the activation's last turn: no other turn runs or will start.</summary>
    private async Task DeactivateAsync()
    {
        DisposeTimers();
        try
        {
            var timeout = Catalog.Options.DeactivationTimeout;
            using var cancellation = new CancellationTokenSource(timeout, Catalog.Time);
            await Instance!.OnDeactivateAsync(deactivationReason, cancellation.Token).WaitAsync(timeout, Catalog.Time);
        }
        catch (Exception e)
        {
            Catalog.Logger.LogWarning(e, "OnDeactivateAsync of {Grain} failed", GrainId);
        }
        await LeaveAsync(unregister: !Class.IsStatelessWorker, failure: null, owner: null);
    }

    /// <summary>
    /// Leaves the catalog and reroutes what waited: fails it with <paramref name="failure"/>, forwards it to
    /// <paramref name="owner"/>, or delivers it again (to a fresh activation).
    /// </summary>
    private async Task LeaveAsync(bool unregister, Exception? failure, SiloAddress? owner)
    {
        DisposeTimers();
        if (unregister)
        {
            try
            {
                await Catalog.Directory.UnregisterAsync(GrainId, Catalog.LocalSilo);
            }
            catch (Exception e)
            {
                Catalog.Logger.LogWarning(e, "unregistering {Grain} from the grain directory failed", GrainId);
            }
        }
        if (scope is { } services)
        {
            try
            {
                await services.DisposeAsync();
            }
            catch (Exception e)
            {
                Catalog.Logger.LogWarning(e, "disposing the services of {Grain} failed", GrainId);
            }
        }
        TurnItem[] left;
        lock (gate)
        {
            state = ActivationState.Invalid;
            left = waiting.ToArray();
            waiting.Clear();
        }
        Catalog.Remove(this);
        deactivated.TrySetResult();
        Catalog.Reroute(left, failure, owner);
    }

    private void DisposeTimers()
    {
        GrainTimer[] all;
        lock (gate)
        {
            all = timers.ToArray();
            timers.Clear();
        }
        foreach (var timer in all) timer.Dispose();
    }
}
