using System.Collections.Concurrent;

namespace OrleansLm.Runtime.Activation;

/// <summary>
/// Runs an activation's tasks one at a time, in order, on the thread pool: each turn starts as a task here, and
/// since awaits resume on the current scheduler, all of a grain's code runs here, never on two threads at once,
/// even for a reentrant grain whose calls interleave (code after ConfigureAwait(false) leaves it, as in Orleans).
/// </summary>
internal sealed class ActivationTaskScheduler : TaskScheduler, IThreadPoolWorkItem
{
    /// <summary>Tasks run per thread-pool visit before yielding the thread, so one busy activation cannot starve the rest.</summary>
    private const int BatchSize = 64;

    [ThreadStatic] private static ActivationTaskScheduler? running;

    private readonly ConcurrentQueue<Task> queue = new();
    private int scheduled;

    public override int MaximumConcurrencyLevel => 1;

    protected override void QueueTask(Task task)
    {
        queue.Enqueue(task);
        if (Interlocked.CompareExchange(ref scheduled, 1, 0) == 0) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    void IThreadPoolWorkItem.Execute()
    {
        running = this;
        try
        {
            for (var i = 0; i < BatchSize && queue.TryDequeue(out var task); i++) TryExecuteTask(task);
        }
        finally
        {
            running = null;
        }
        Volatile.Write(ref scheduled, 0);
        // A task queued after the loop's last look but before the flag dropped found the flag still set and did not schedule us.
        if (!queue.IsEmpty && Interlocked.CompareExchange(ref scheduled, 1, 0) == 0) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>Only a thread already running this activation's tasks may run one inline.</summary>
    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) => running == this && TryExecuteTask(task);

    protected override IEnumerable<Task> GetScheduledTasks() => queue.ToArray();
}
