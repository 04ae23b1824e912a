using System.Diagnostics;
using OrleansLm.Model.Models;
using OrleansLm.Model.Training;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// An n-gram run on the cluster: the run's spec.workers data shards count their contiguous parts of the training split
/// in parallel (each the grams that end in its part), and their merged counts equal the counts one process makes, so
/// the model built from them is the one <c>olm train</c> writes.
/// </summary>
public static class NGramCounting
{
    /// <summary>
    /// Counts the run's n-grams on its data shards, builds the model with the configured smoothing, evaluates it on the
    /// validation split and writes it to <paramref name="modelPath"/> with its tokenizer beside it, as
    /// <see cref="TrainingRun.Execute"/> does, so <see cref="TrainingRun.LoadForInference"/> loads it.
    /// </summary>
    /// <param name="data">This silo's corpora: the tokenizer and validation split come from here.</param>
    /// <exception cref="ArgumentException">The spec is not an n-gram run, or spec.workers is below 1.</exception>
    public static async Task<RunSummary> CountAsync(
        IGrainFactory grains, RunData data, string runId, RunSpec spec, string modelPath, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentException.ThrowIfNullOrWhiteSpace(runId);
        ArgumentException.ThrowIfNullOrWhiteSpace(modelPath);
        var clock = Stopwatch.StartNew();
        var (config, section) = RunSpecs.NGramConfig(spec);
        RunSpecs.CheckWorkers(spec);

        var parts = await Task.WhenAll(Enumerable.Range(0, spec.Workers)
            .Select(part => grains.GetGrain<IDataShardGrain>(runId, part).CountNGrams(spec, cancellation)));
        var counts = NGramCounts.Merge(parts.Select(part =>
        {
            using var file = new MemoryStream(part, writable: false);
            return NGramCounts.Load(file);
        }));
        cancellation.ThrowIfCancellationRequested();
        var (tokenizer, corpus) = data.Load(config.Data);
        return TrainingRun.SaveNGramModel(section, counts, corpus, tokenizer, modelPath, clock);
    }
}
