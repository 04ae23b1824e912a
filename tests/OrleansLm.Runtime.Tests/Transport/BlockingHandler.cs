using System.Diagnostics;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Tests.Transport;

/// <summary>Every call waits until its token fires; tells when <paramref name="expected"/> calls have started and when all their tokens fired.</summary>
internal sealed class BlockingHandler(int expected = 1) : IRequestHandler
{
    private int started;
    private int cancelled;

    public TaskCompletionSource AllStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource AllCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Started => Volatile.Read(ref started);

    public async ValueTask<ReadOnlyMemory<byte>> HandleAsync(SiloAddress caller, ReadOnlyMemory<byte> request, CancellationToken cancellation)
    {
        await using var onCancel = cancellation.Register(() =>
        {
            if (Interlocked.Increment(ref cancelled) == expected) AllCancelled.TrySetResult();
        });
        if (Interlocked.Increment(ref started) == expected) AllStarted.TrySetResult();
        await Task.Delay(Timeout.Infinite, cancellation);
        throw new UnreachableException();
    }
}
