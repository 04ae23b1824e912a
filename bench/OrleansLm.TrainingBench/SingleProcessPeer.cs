using OrleansLm.Model.Models;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Text;
using OrleansLm.Model.Training;

namespace OrleansLm.TrainingBench;

/// <summary>The single-process <see cref="Trainer"/> on a run's configuration, in this process.</summary>
internal static class SingleProcessPeer
{
    /// <summary>
    /// Trains <paramref name="config"/> on this thread (training.steps steps, then its evaluation); the time per step is
    /// taken over the steps after the first <paramref name="warmup"/>, from the trainer's own clock at the end of each step.
    /// </summary>
    public static RunResult Run(RunConfig config, Corpus corpus, int warmup)
    {
        using var run = new TrainerRun(config, corpus);
        return run.Train(warmup);
    }

    /// <summary>
    /// <paramref name="copies"/> independent trainers of <paramref name="config"/> at once, each on a thread of its own:
    /// what the machine gives that many workers' computations when nothing else runs. Seconds per step are the
    /// trainers' mean; the losses are the first trainer's (all train alike).
    /// </summary>
    public static async Task<RunResult> RunConcurrentlyAsync(RunConfig config, Corpus corpus, int warmup, int copies)
    {
        var runs = new List<TrainerRun>();
        try
        {
            // Built one after another: each model is seeded through libtorch's process-wide generator.
            for (var i = 0; i < copies; i++) runs.Add(new TrainerRun(config, corpus));
            var results = await Task.WhenAll(runs.Select(run => Task.Factory.StartNew(() => run.Train(warmup), TaskCreationOptions.LongRunning)));
            return results[0] with { SecondsPerStep = results.Average(r => r.SecondsPerStep) };
        }
        finally
        {
            foreach (var run in runs) run.Dispose();
        }
    }

    /// <summary>A trainer with its model, optimizer and batches, as <c>olm train</c> builds them.</summary>
    private sealed class TrainerRun : IDisposable
    {
        private readonly ILanguageModel model;
        private readonly Optimizer optimizer;
        private readonly Trainer trainer;
        private readonly long steps;

        public TrainerRun(RunConfig config, Corpus corpus)
        {
            var training = config.TrainingOrDefault;
            steps = training.Steps;
            model = TrainingRun.BuildModel(config, corpus.VocabularySize);
            optimizer = config.OptimizerOrDefault.Build([.. model.Parameters()]);
            var (train, validation) = TrainingRun.BatchSources(config, corpus);
            var schedule = config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, training.Steps);
            trainer = new Trainer(model, optimizer, schedule, train, validation, training.ToOptions(null) with { ReportEvery = 1 });
        }

        public RunResult Train(int warmup)
        {
            var events = new StepEvents();
            var validationLoss = trainer.Run(events);
            var ends = events.Steps.ToDictionary(e => e.Step, e => e.Elapsed);
            return new RunResult((ends[steps] - ends[warmup]).TotalSeconds / (steps - warmup), [.. events.Steps.Select(e => e.Loss)], validationLoss);
        }

        public void Dispose()
        {
            trainer.Dispose();
            optimizer.Dispose();
            model.Dispose();
        }
    }

    private sealed class StepEvents : IProgress<TrainingEvent>
    {
        public List<TrainingEvent> Steps { get; } = [];

        public void Report(TrainingEvent value)
        {
            if (value.Kind == TrainingEventKind.Step) Steps.Add(value);
        }
    }
}
