using OrleansLm.Model.Models;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// A cluster run's parameters as one consolidated <see cref="ModelFile"/>: the slices of its K parameter-server shards,
/// in order, loaded into the model its configuration builds, written with the run's configuration and tokenizer, so
/// <c>olm sample</c> and the samplers load it as they load a single-process checkpoint.
/// </summary>
public static class RunExport
{
    /// <summary>
    /// Pulls every shard of run <paramref name="runId"/> and writes the model to <paramref name="path"/> (its directory
    /// is created), atomically; returns the path. The shards are pulled concurrently, so the caller must keep them from
    /// applying a step meanwhile for the file to hold the parameters of one step.
    /// </summary>
    public static async Task<string> WriteAsync(IGrainFactory grains, string runId, RunSpec spec, RunData data, string path)
    {
        ArgumentNullException.ThrowIfNull(grains);
        var slices = await Task.WhenAll(Enumerable.Range(0, spec.ParameterServers)
            .Select(k => grains.GetGrain<IParameterServerGrain>(runId, k).Pull()));
        return Write(spec, data, path, (_, _) => slices, $"run {runId}");
    }

    /// <summary>Writes the model a verified checkpoint holds (its shards' files) to <paramref name="path"/>; returns the path.</summary>
    public static string WriteFromCheckpoint(RunManifest manifest, RunData data, string path)
    {
        var optimizer = RunSpecs.Config(manifest.Spec).OptimizerOrDefault;
        return Write(manifest.Spec, data, path, (layout, ranges) => [.. ranges.Select((range, k) =>
        {
            using var shard = ParameterShard.Load(manifest.Files[k].Path, layout, range, optimizer);
            return shard.Values();
        })], $"the checkpoint of step {manifest.Step}");
    }

    private static string Write(RunSpec spec, RunData data, string path, Func<ParameterLayout, IReadOnlyList<ShardRange>, float[][]> slicesOf, string source)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var config = RunSpecs.Config(spec);
        var (tokenizer, corpus) = data.Load(config.Data);

        // Seeded, as the workers build it: BuildModel's lock keeps the draw from another grain's seeded build; the
        // shards' values then replace the initial ones.
        using (var model = TrainingRun.BuildModel(config, corpus.VocabularySize))
        {
            var layout = ParameterLayout.Of(model);
            var ranges = layout.Split(spec.ParameterServers);
            var slices = slicesOf(layout, ranges);
            var values = new float[layout.Count];
            for (var k = 0; k < ranges.Count; k++)
            {
                if (slices[k].Length != ranges[k].Length)
                    throw new InvalidOperationException(
                        $"parameter-server shard {k} of {source} holds {slices[k].Length} values; its range of the model holds {ranges[k].Length}");
                slices[k].CopyTo(values, ranges[k].Start);
            }
            layout.Load(model, values);
            var full = Path.GetFullPath(path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            ModelFile.Write(full, model, config, tokenizer);
            return full;
        }
    }
}
