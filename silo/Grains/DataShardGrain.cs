using OrleansLm.Model.Training;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// Serves part p of the run's training batches from the silo's copy of the corpus (<see cref="RunData"/>): batches are
/// a pure function of the step, so a redone or resumed step gets the same rows, wherever the shard lives.
/// </summary>
[PreferLocalPlacement]
public sealed class DataShardGrain(RunData data) : Grain, IDataShardGrain
{
    private IBatchSource? train;
    private int parts;

    public Task Prepare(RunSpec spec)
    {
        var config = RunSpecs.Config(spec);
        var (_, part) = GetCompoundKey();
        if (part < 0 || part >= spec.Workers)
            throw new ArgumentException($"data shard {part} does not exist in a run of {spec.Workers} parts (spec.workers)", nameof(spec));
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
}
