using Microsoft.Extensions.Logging;

namespace OrleansLm.Runtime.Activation;

/// <summary>
/// A grain timer: when due it queues a tick into its activation's mailbox, and only after the tick's turn completed
/// does it wait <c>period</c> for the next, so ticks never overlap one another.
/// </summary>
internal sealed class GrainTimer : IDisposable
{
    private readonly ActivationData activation;
    private readonly Func<object?, Task> callback;
    private readonly object? state;
    private readonly TimeSpan dueTime;
    private readonly TimeSpan period;
    private readonly ITimer timer;
    private int disposed;

    public GrainTimer(ActivationData activation, Func<object?, Task> callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (dueTime < TimeSpan.Zero && dueTime != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(dueTime), dueTime, "a timer's due time cannot be negative");
        if (period <= TimeSpan.Zero && period != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(period), period, "a timer's period must be positive, or infinite for a single tick");
        this.activation = activation;
        this.callback = callback;
        this.state = state;
        this.dueTime = dueTime;
        this.period = period;
        // Created idle and armed by Start, so a due time of zero cannot fire before the field is assigned.
        timer = activation.Catalog.Time.CreateTimer(static t => ((GrainTimer)t!).OnDue(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    private bool IsDisposed => Volatile.Read(ref disposed) != 0;

    public void Start() => Arm(dueTime);

    /// <summary>Runs as a turn of the activation.</summary>
    public async Task TickAsync()
    {
        // A tick that waited in the mailbox while the timer was disposed (e.g. by the call ahead of it) is dropped.
        if (IsDisposed) return;
        try
        {
            await callback(state);
        }
        catch (Exception e)
        {
            activation.Catalog.Logger.LogWarning(e, "timer callback of {Grain} failed", activation.GrainId);
        }
        if (period != Timeout.InfiniteTimeSpan) Arm(period);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        timer.Dispose();
        activation.RemoveTimer(this);
    }

    private void OnDue()
    {
        // A refused tick means the activation is going away, and its timers with it.
        if (!IsDisposed) activation.TryEnqueue(new TimerTick(this));
    }

    private void Arm(TimeSpan due)
    {
        if (IsDisposed) return;
        try
        {
            timer.Change(due, Timeout.InfiniteTimeSpan);
        }
        catch (ObjectDisposedException)
        {
            // Disposed between the check and the change: nothing left to arm.
        }
    }
}
