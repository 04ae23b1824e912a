using OrleansLm.Model.Models;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Text;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;

namespace OrleansLm.Model.Tests.Parallel;

/// <summary>
/// N replicas and K parameter shards of one run in this process, stepped as the grains step them (the grains are the
/// real coordinator): every replica loads every shard, computes its part's gradient; every shard accumulates every
/// replica's slice by its tokens; the shards' norms make one clip coefficient; every shard applies the update.
/// </summary>
internal sealed class InProcessDataParallel : IDisposable
{
    private const string StepKey = "step";

    private readonly RunConfig config;
    private readonly ILearningRateSchedule schedule;
    private readonly List<ILanguageModel> models = [];
    private readonly List<DataParallelReplica> replicas = [];
    private readonly List<ParameterShard> shards;
    private readonly IBatchSource train;

    /// <param name="resumeFrom">A directory <see cref="Save"/> wrote: the shards (and the step) come from its files.</param>
    public InProcessDataParallel(RunConfig config, Corpus corpus, int workers, int shards, string? resumeFrom = null)
    {
        this.config = config;
        schedule = config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, config.TrainingOrDefault.Steps);
        float[] initial;
        using (var model = TrainingRun.BuildModel(config, corpus.VocabularySize))
        {
            Layout = ParameterLayout.Of(model);
            initial = Layout.Flatten(model);
        }
        Ranges = Layout.Split(shards);
        this.shards = resumeFrom is null
            ? [.. Ranges.Select(r => new ParameterShard(Layout, r, initial.AsSpan((int)r.Start, (int)r.Length), config.OptimizerOrDefault))]
            : [.. Ranges.Select(r => ParameterShard.Load(ShardFile(resumeFrom, r.Index), Layout, r, config.OptimizerOrDefault))];
        if (resumeFrom is not null) Step = long.Parse(this.shards[0].Metadata[StepKey]);
        train = TrainingRun.BatchSources(config, corpus).Train;
        for (var rank = 0; rank < workers; rank++)
        {
            models.Add(TrainingRun.BuildModel(config, corpus.VocabularySize));
            replicas.Add(new DataParallelReplica(models[rank], Layout, Ranges, config.TrainingOrDefault.Precision));
        }
    }

    public ParameterLayout Layout { get; }

    public IReadOnlyList<ShardRange> Ranges { get; }

    public IReadOnlyList<ParameterShard> Shards => shards;

    public long Step { get; private set; }

    /// <summary>Runs step <see cref="Step"/>; returns the step's loss and the clip coefficient it applied.</summary>
    public (double Loss, double ClipCoefficient) RunStep()
    {
        var learningRate = schedule.LearningRateAt(Step);
        var gradients = new List<ReplicaGradients>();
        for (var rank = 0; rank < replicas.Count; rank++)
        {
            for (var k = 0; k < shards.Count; k++) replicas[rank].LoadShard(k, shards[k].Values());
            gradients.Add(replicas[rank].ComputeGradients(Step, rank, BatchTokens.Of(train, Step, rank, replicas.Count)));
        }
        for (var k = 0; k < shards.Count; k++)
            foreach (var gradient in gradients) shards[k].Accumulate(gradient.Slices[k], gradient.Tokens);
        var (_, coefficient) = DataParallelStep.Clipping(shards.Select(s => s.SquaredGradientNorm()), config.TrainingOrDefault.GradClip);
        foreach (var shard in shards) shard.Apply(learningRate, coefficient);
        Step++;
        return (DataParallelStep.Loss(gradients.Select(g => (g.Loss, g.Tokens))), coefficient);
    }

    public List<double> Run(long untilStep)
    {
        var losses = new List<double>();
        while (Step < untilStep) losses.Add(RunStep().Loss);
        return losses;
    }

    /// <summary>Writes every shard, with the step, to <paramref name="directory"/>.</summary>
    public void Save(string directory)
    {
        foreach (var shard in shards) shard.Save(ShardFile(directory, shard.Range.Index), new Dictionary<string, string> { [StepKey] = Step.ToString() });
    }

    public static string ShardFile(string directory, int shard) => Path.Combine(directory, $"shard{shard}.safetensors");

    public void Dispose()
    {
        foreach (var replica in replicas) replica.Dispose();
        foreach (var model in models) model.Dispose();
        foreach (var shard in shards) shard.Dispose();
    }
}
