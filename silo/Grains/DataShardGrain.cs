using OrleansLm.Model.Training;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// Serves part p of the run's training batches from the silo's copy of the corpus (<see cref="RunData"/>): batches are
/// a pure function of the step, so a redone or resumed step gets the same rows, wherever the shard lives. For an n-gram
/// run it counts part p of the training split instead.
/// </summary>
[PreferLocalPlacement]
public sealed class DataShardGrain(RunData data) : Grain, IDataShardGrain
{
    private IBatchSource? train;
    private int parts;

    public Task Prepare(RunSpec spec)
    {
        var config = RunSpecs.Config(spec);
        CheckPart(spec);
        var (_, corpus) = data.Load(config.Data);
        train = TrainingRun.BatchSources(config, corpus).Train;
        parts = spec.Workers;
        return Task.CompletedTask;
    }

    public Task<BatchTokens> Batch(long step)
    {
        var source = train ?? throw new InvalidOperationException($"data shard {GetCompoundKey()} was not prepared for a run");
        return Task.FromResult(BatchTokens.Of(source, step, (int)GetCompoundKey().Index, parts));
    }

    public Task<byte[]> CountNGrams(RunSpec spec, CancellationToken cancellation)
    {
        var (config, section) = RunSpecs.NGramConfig(spec);
        var part = CheckPart(spec);
        var (_, corpus) = data.Load(config.Data);
        var counts = TrainingRun.CountNGrams(section, corpus, corpus.TrainShard(spec.Workers, part), cancellation);
        using var file = new MemoryStream();
        counts.Save(file);
        return Task.FromResult(file.ToArray());
    }

    /// <summary>This shard's part p, checked against the spec's N parts.</summary>
    private int CheckPart(RunSpec spec)
    {
        RunSpecs.CheckWorkers(spec);
        var (_, part) = GetCompoundKey();
        if (part < 0 || part >= spec.Workers)
            throw new ArgumentException($"data shard {part} does not exist in a run of {spec.Workers} parts (spec.workers)", nameof(spec));
        return (int)part;
    }
}
