using System.Collections.Concurrent;
using OrleansLm.Model.Decoding;
using OrleansLm.Model.Training;
using OrleansLm.Runtime.Grains;
using OrleansLm.Silo.Grains;

namespace OrleansLm.Silo.Serving;

/// <param name="MaxBatchRows">Rows of concurrent generations decoded together.</param>
/// <param name="BatchWait">How long a batch's first request waits for others.</param>
/// <param name="RunRefresh">How stale a run's served parameters may get before they are exported again.</param>
public sealed record ServingOptions(int MaxBatchRows = 32, TimeSpan? BatchWait = null, TimeSpan? RunRefresh = null)
{
    public TimeSpan BatchWaitOrDefault => BatchWait ?? TimeSpan.FromMilliseconds(2);

    public TimeSpan RunRefreshOrDefault => RunRefresh ?? TimeSpan.FromSeconds(10);
}

/// <summary>
/// The models this silo serves, loaded once per key and shared by every sampler and gateway call on the silo, each
/// with its <see cref="GenerationBatcher"/> so concurrent generations are decoded in batches. A key is a model file
/// (what <c>olm train</c> or an export wrote) or <c>run:&lt;id&gt;</c>: a training run's parameters, exported again when
/// the run has moved on and <see cref="ServingOptions.RunRefresh"/> has passed. A model that is replaced is disposed
/// once its last call ends.
/// </summary>
public sealed class ServedModels(ServingOptions options) : IAsyncDisposable
{
    /// <summary>The extension of exported model files.</summary>
    public const string ExportExtension = ".safetensors";

    private readonly ConcurrentDictionary<string, Entry> entries = new(StringComparer.Ordinal);

    /// <summary>The key's model, loaded or refreshed first as needed; dispose the lease when the call is done.</summary>
    public async Task<ServedModel.Lease> AcquireAsync(string key, IGrainFactory grains, CancellationToken cancellation = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(key);
        var entry = entries.GetOrAdd(key, _ => new Entry());
        await entry.Gate.WaitAsync(cancellation);
        try
        {
            if (entry.Current is null || entry.Stale || await RunMovedOnAsync(entry, key, grains))
                await LoadAsync(entry, key, grains);
            return entry.Current!.Acquire();
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    /// <summary>Makes the next call on <paramref name="key"/> load its model again: the file as it is now, or the run's current parameters.</summary>
    public void Invalidate(string key)
    {
        if (entries.TryGetValue(key, out var entry)) entry.Stale = true;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var entry in entries.Values)
            if (entry.Current is { } model) await model.RetireAsync();
        entries.Clear();
    }

    private async Task<bool> RunMovedOnAsync(Entry entry, string key, IGrainFactory grains)
    {
        if (RunId(key) is not { } runId || DateTime.UtcNow - entry.CheckedAt < options.RunRefreshOrDefault) return false;
        entry.CheckedAt = DateTime.UtcNow;
        return (await grains.GetGrain<ITrainingRunGrain>(runId).Status()).Step != entry.Current!.RunStep;
    }

    private async Task LoadAsync(Entry entry, string key, IGrainFactory grains)
    {
        string path;
        long? runStep = null;
        if (RunId(key) is { } runId)
        {
            var run = grains.GetGrain<ITrainingRunGrain>(runId);
            // The step is read before the export: a step that lands in between makes the next check reload.
            runStep = (await run.Status()).Step;
            path = await run.Export(null);
        }
        else path = File.Exists(key) ? key : throw new ArgumentException($"sampler key: checkpoint {Path.GetFullPath(key)} does not exist", nameof(key));
        var (model, tokenizer, _) = await Task.Run(() => TrainingRun.LoadForInference(path));
        var loaded = new ServedModel(key, model, tokenizer, runStep,
            new GenerationBatcher(model, new GenerationBatcherOptions { MaxBatchRows = options.MaxBatchRows, MaxWait = options.BatchWaitOrDefault }));
        var replaced = entry.Current;
        (entry.Current, entry.Stale, entry.CheckedAt) = (loaded, false, DateTime.UtcNow);
        if (replaced is not null) await replaced.RetireAsync();
    }

    private static string? RunId(string key)
    {
        if (!key.StartsWith(SamplerKey.RunPrefix, StringComparison.Ordinal)) return null;
        var runId = key[SamplerKey.RunPrefix.Length..];
        return string.IsNullOrWhiteSpace(runId) ? throw new ArgumentException($"sampler key '{key}' names no run after '{SamplerKey.RunPrefix}'", nameof(key)) : runId;
    }

    private sealed class Entry
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public ServedModel? Current { get; set; }

        public bool Stale { get; set; }

        public DateTime CheckedAt { get; set; }
    }
}
