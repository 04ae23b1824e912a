using System.Collections.Concurrent;

namespace OrleansLm.Runtime.Transport;

/// <summary>The tasks a transport runs on its own (loops, handlers, connects), so disposing it can wait for every one.</summary>
internal sealed class BackgroundTasks
{
    private readonly ConcurrentDictionary<Task, byte> running = new();

    public void Track(Task task)
    {
        running.TryAdd(task, 0);
        // Registered after the add, so the removal never precedes it even when the task has already finished.
        task.ContinueWith(static (done, set) => ((ConcurrentDictionary<Task, byte>)set!).TryRemove(done, out _), running,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Completes once nothing tracked runs, including tasks started while waiting.</summary>
    public async Task WhenAllAsync()
    {
        while (!running.IsEmpty)
            await Task.WhenAll(running.Keys).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }
}
