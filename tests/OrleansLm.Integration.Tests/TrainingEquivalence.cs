using System.Diagnostics;
using OrleansLm.Model.Training;
using OrleansLm.Silo.Grains;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// What the cluster training tests share: a tiny corpus and run, the single-process <see cref="Trainer"/>'s loss at
/// every step (what a distributed run must reproduce), and waiting for a run's end within a bound.
/// </summary>
public static class TrainingEquivalence
{
    private const string Text = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings and arrows ";

    /// <summary>How often <see cref="RunToEndAsync"/> asks: well within a grain call's timeout.</summary>
    private static readonly TimeSpan StatusWait = TimeSpan.FromSeconds(10);

    /// <summary>A corpus small enough that loading it costs nothing; a run's data.path must hold it.</summary>
    public static string Corpus { get; } = string.Concat(Enumerable.Repeat(Text, 40));

    /// <summary>
    /// A run of <paramref name="family"/> ("transformer", "fixedwindow", or a recurrent cell: "lstm", "gru", "elman")
    /// small enough for a test to train in seconds.
    /// </summary>
    public static RunConfig Config(string corpusPath, string family, int steps, int batchSize) => new(
        new DataSection(corpusPath, BlockSize: 8, BatchSize: batchSize, Seed: 7),
        family switch
        {
            "transformer" => new TransformerSection(Layers: 1, Heads: 2, Dim: 16),
            "fixedwindow" => new FixedWindowSection(Context: 3, Embedding: 8, Hidden: 16),
            _ => new RecurrentSection(Cell: family, Embedding: 8, Hidden: 16, Layers: family == "gru" ? 2 : 1),
        },
        new OptimizerSection(Lr: 3e-3),
        new ScheduleSection(Warmup: 2),
        new TrainingSection(Steps: steps, EvalEvery: 0, EvalBatches: 2, GradClip: 0.5, Seed: 11));

    /// <summary>The training loss at every step of <paramref name="config"/> on the single-process trainer.</summary>
    public static List<double> SingleProcessLosses(RunConfig config) => SingleProcessRun(config).Losses;

    /// <summary>The training loss at every step of <paramref name="config"/> on the single-process trainer, and its validation loss after the last.</summary>
    public static (List<double> Losses, double ValidationLoss) SingleProcessRun(RunConfig config)
    {
        var (_, corpus) = TrainingRun.LoadData(config.Data);
        List<double> losses = [];
        using var model = TrainingRun.BuildModel(config, corpus.VocabularySize);
        using var optimizer = config.OptimizerOrDefault.Build([.. model.Parameters()]);
        var (train, validation) = TrainingRun.BatchSources(config, corpus);
        var training = config.TrainingOrDefault;
        using var trainer = new Trainer(model, optimizer, config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, training.Steps), train, validation,
            training.ToOptions(null) with { ReportEvery = 1, EvalEvery = 0, CheckpointEvery = 0, CheckpointPath = null });
        var validationLoss = trainer.Run(new StepLosses(losses));
        return (losses, validationLoss);
    }

    /// <summary>The run's status once it is no longer running, or when <paramref name="limit"/> has passed.</summary>
    public static async Task<RunStatus> RunToEndAsync(ITrainingRunGrain run, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        var status = await run.Status();
        while (status.State == RunState.Running && clock.Elapsed < limit)
            status = await run.WaitForEnd(StatusWait);
        return status;
    }

    /// <summary>The run completed, its loss at every step equal to the single-process trainer's to 1e-4 relative, and it learnt something.</summary>
    public static void ShouldReproduce(RunStatus status, IReadOnlyList<double> expected)
    {
        status.Error.Should().BeNull();
        status.State.Should().Be(RunState.Completed);
        ShouldReproduceLosses(status.Losses, expected);
        status.ValidationLoss.Should().BeLessThan(expected[0], "the run learnt something");
    }

    /// <summary>A loss at every step, each equal to the single-process trainer's to 1e-4 relative.</summary>
    public static void ShouldReproduceLosses(IReadOnlyList<double> losses, IReadOnlyList<double> expected)
    {
        losses.Should().HaveCount(expected.Count);
        for (var step = 0; step < expected.Count; step++)
            losses[step].Should().BeApproximately(expected[step], 1e-4 * Math.Abs(expected[step]), $"step {step}");
    }

    private sealed class StepLosses(List<double> losses) : IProgress<TrainingEvent>
    {
        public void Report(TrainingEvent value)
        {
            if (value.Kind == TrainingEventKind.Step) losses.Add(value.Loss);
        }
    }
}
