using System.Diagnostics;
using OrleansLm.Model.Models;

namespace OrleansLm.Model.Decoding;

public sealed record GenerationBatcherOptions
{
    /// <summary>
    /// Sample rows decoded together at most. A request with more samples than this still runs, alone.
    /// </summary>
    public int MaxBatchRows
    {
        get;
        init => field = Checked.AtLeast(value, 1, nameof(MaxBatchRows));
    } = 32;

    /// <summary>
    /// How long the oldest queued request may wait for others to join its batch, unless they fill it sooner: a
    /// little latency traded for throughput. Zero runs whatever is queued at once.
    /// </summary>
    public TimeSpan MaxWait
    {
        get;
        init => field = value >= TimeSpan.Zero && value.TotalMilliseconds <= int.MaxValue ? value
            : throw new ArgumentOutOfRangeException(nameof(MaxWait), value, $"{nameof(MaxWait)} must lie in [0, {int.MaxValue} ms]");
    } = TimeSpan.FromMilliseconds(2);
}

/// <summary>What a <see cref="GenerationBatcher"/> has run so far: batches, the sample rows they decoded, and the largest one.</summary>
public sealed record GenerationBatcherStatistics(long Batches, long Rows, int LargestBatchRows);

/// <summary>One token of a sample (numbered within its request) as it is generated, with its log-probability under the model.</summary>
public readonly record struct StreamedToken(int Sample, int Token, double LogProb);

/// <summary>
/// Decodes concurrent generation requests for one model in shared batches: one background thread takes the queued
/// requests whose prompts have the oldest request's length (FIFO, up to <see cref="GenerationBatcherOptions.MaxBatchRows"/>
/// rows), prefills their prompts in one step and decodes one token per row per step until each request has
/// finished. Prompts are never padded, since padding would change what a position-dependent model computes; other
/// lengths wait for a later batch. Each request keeps its own options and random source, so it gets what
/// <see cref="Generator.Generate"/> would give it alone (up to the rounding of batched matrix products).
/// </summary>
/// <remarks>
/// The batcher owns its thread, not the model: dispose the batcher first, then the model. The model must be in eval
/// mode. The thread blocks instead of awaiting, because libtorch's grad mode and the dispose scopes are per thread.
/// </remarks>
public sealed class GenerationBatcher : IAsyncDisposable
{
    private readonly ILanguageModel model;
    private readonly GenerationBatcherOptions options;
    private readonly object gate = new();
    private readonly List<Queued> queue = [];   // oldest first; guarded by gate
    private readonly CancellationTokenSource stopping = new();
    private readonly TaskCompletionSource loopEnded = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private GenerationBatcherStatistics statistics = new(0, 0, 0);   // guarded by gate
    private bool disposed;   // guarded by gate

    public GenerationBatcher(ILanguageModel model, GenerationBatcherOptions? options = null)
    {
        this.model = model ?? throw new ArgumentNullException(nameof(model));
        this.options = options ?? new GenerationBatcherOptions();
        // UnsafeStart: the loop must not inherit the caller's execution context, whose dispose scope would
        // otherwise own the tensors of every batch.
        new Thread(Loop) { IsBackground = true, Name = nameof(GenerationBatcher) }.UnsafeStart();
    }

    public GenerationBatcherStatistics Statistics
    {
        get
        {
            lock (gate) return statistics;
        }
    }

    /// <summary>
    /// Queues a request for <see cref="SamplingOptions.NumSamples"/> continuations of <paramref name="prompt"/>.
    /// <paramref name="onToken"/> is called on the batcher's thread with each token once it is certain to be part of
    /// its sample's result (a token that may still begin a stop sequence waits), so the streamed tokens of a sample
    /// are its final tokens, in order; if it throws, the request fails with its exception. Cancelling the request
    /// drops its rows at the next step and ends it with <see cref="OperationCanceledException"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The prompt or a stop sequence is empty or leaves the vocabulary.</exception>
    /// <exception cref="ObjectDisposedException">The batcher is disposed (also how pending requests end then).</exception>
    public Task<IReadOnlyList<Generation>> GenerateAsync(IReadOnlyList<int> prompt, SamplingOptions options,
        Action<StreamedToken>? onToken = null, CancellationToken cancellation = default)
    {
        var group = new SampleGroup(model, prompt, options, onToken, cancellation);
        lock (gate)
        {
            ObjectDisposedException.ThrowIf(disposed, this);
            queue.Add(new Queued(group, Stopwatch.GetTimestamp()));
            Monitor.PulseAll(gate);
        }
        return Completed(group, cancellation.Register(() => CancelQueued(group)));
    }

    /// <summary>Stops the loop after the current step; queued and running requests fail with <see cref="ObjectDisposedException"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        Queued[] pending;
        lock (gate)
        {
            if (disposed) pending = [];
            else
            {
                disposed = true;
                pending = [.. queue];
                queue.Clear();
                Monitor.PulseAll(gate);
                stopping.Cancel();
            }
        }
        foreach (var queued in pending) queued.Group.Fail(new ObjectDisposedException(nameof(GenerationBatcher)));
        await loopEnded.Task.ConfigureAwait(false);
    }

    private static async Task<IReadOnlyList<Generation>> Completed(SampleGroup group, CancellationTokenRegistration registration)
    {
        using (registration) return await group.Completion.ConfigureAwait(false);
    }

    private void CancelQueued(SampleGroup group)
    {
        bool removed;
        lock (gate) removed = queue.RemoveAll(q => q.Group == group) > 0;
        // A running request notices its cancellation itself, at its next step.
        if (removed) group.Cancel();
    }

    private void Loop()
    {
        while (NextBatch() is { } batch)
        {
            try
            {
                SampleGroup.Decode(model, batch, stopping.Token);
            }
            catch (Exception e)
            {
                // Only this batch's requests fail (a libtorch error, say); the loop serves the next one.
                var error = stopping.IsCancellationRequested ? new ObjectDisposedException(nameof(GenerationBatcher)) : e;
                foreach (var group in batch) group.Fail(error);
            }
        }
        stopping.Dispose();
        loopEnded.SetResult();
    }

    /// <summary>
    /// Waits for work, then until the oldest request has waited <see cref="GenerationBatcherOptions.MaxWait"/> or
    /// its prompt length has a full batch queued, and takes that batch; null once disposed.
    /// </summary>
    private List<SampleGroup>? NextBatch()
    {
        lock (gate)
        {
            while (!disposed)
            {
                if (queue.Count == 0)
                {
                    Monitor.Wait(gate);
                    continue;
                }
                var (oldest, queuedAt) = queue[0];
                var waited = Stopwatch.GetElapsedTime(queuedAt);
                var length = oldest.Prompt.Count;
                if (waited < options.MaxWait && queue.Where(q => q.Group.Prompt.Count == length).Sum(q => q.Group.Rows) < options.MaxBatchRows)
                {
                    Monitor.Wait(gate, options.MaxWait - waited);
                    continue;
                }
                return Take(length);
            }
            return null;
        }
    }

    /// <summary>
    /// Takes the oldest request and, oldest first, every later one with the same prompt length that still fits in
    /// <see cref="GenerationBatcherOptions.MaxBatchRows"/>; one that does not fit stays queued and will be the oldest.
    /// </summary>
    private List<SampleGroup> Take(int promptLength)
    {
        var batch = new List<SampleGroup>();
        var rows = 0;
        for (var i = 0; i < queue.Count;)
        {
            var group = queue[i].Group;
            if (group.Prompt.Count != promptLength || (batch.Count > 0 && rows + group.Rows > options.MaxBatchRows))
            {
                i++;
                continue;
            }
            batch.Add(group);
            rows += group.Rows;
            queue.RemoveAt(i);
        }
        statistics = new(statistics.Batches + 1, statistics.Rows + rows, Math.Max(statistics.LargestBatchRows, rows));
        return batch;
    }

    private readonly record struct Queued(SampleGroup Group, long QueuedAt);
}
