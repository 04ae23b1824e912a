using OrleansLm.Runtime.Activation;

namespace OrleansLm.Runtime.Grains;

/// <summary>
/// Base class of grain implementations. The runtime creates one per activation through DI (the constructor may take
/// services), runs <see cref="OnActivateAsync"/> before any call, then one call at a time (unless the class is
/// [Reentrant]), and <see cref="OnDeactivateAsync"/> when it collects the activation. Identity and runtime services
/// are available from the constructor on.
/// </summary>
public abstract class Grain
{
    private readonly ActivationData? activation;

    protected Grain() => activation = ActivationData.Constructing;

    public GrainId GrainId => Activation.GrainId;

    public IGrainFactory GrainFactory => Activation.Catalog.GrainFactory;

    public string GetPrimaryKeyString() => GrainId.GetStringKey();

    public long GetPrimaryKeyLong() => GrainId.GetIntegerKey();

    public (string Key, long Index) GetCompoundKey() => GrainId.GetCompoundKey();

    /// <summary>Runs before the activation's first call. The token is cancelled when the silo stops. Throwing fails the waiting calls.</summary>
    public virtual Task OnActivateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>Runs when the activation is collected, as a turn of its own (no call runs meanwhile); the token fires at the deactivation timeout.</summary>
    public virtual Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Deactivates this activation once the current call (or timer tick) completes. Calls arriving meanwhile wait and
    /// then go to a fresh activation.
    /// </summary>
    protected void DeactivateOnIdle() => Activation.RequestDeactivation(DeactivationReason.ApplicationRequested);

    /// <summary>
    /// Keeps the idle collector away from this activation for at least <paramref name="period"/> from now, as Orleans'
    /// DelayDeactivation: for a grain whose work runs outside calls (a loop it started) and that must not be collected meanwhile.
    /// </summary>
    protected void DelayDeactivation(TimeSpan period) => Activation.DelayDeactivation(period);

    /// <summary>
    /// Calls <paramref name="callback"/> after <paramref name="dueTime"/>, then every <paramref name="period"/>
    /// (<see cref="Timeout.InfiniteTimeSpan"/>: once), each time as a turn of this activation: never concurrently with
    /// a call unless the grain is [Reentrant]. The period counts from the end of the previous tick, so ticks never
    /// overlap. Ticks do not keep the activation from being collected; deactivation disposes its timers.
    /// </summary>
    protected IDisposable RegisterTimer(Func<object?, Task> callback, object? state, TimeSpan dueTime, TimeSpan period) =>
        Activation.RegisterTimer(callback, state, dueTime, period);

    private ActivationData Activation =>
        activation ?? throw new InvalidOperationException($"{GetType().Name} was not created by the grain runtime, so it has no identity or runtime");
}
