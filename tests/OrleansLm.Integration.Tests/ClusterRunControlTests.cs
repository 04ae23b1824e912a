using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Training;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Metrics;
using OrleansLm.Silo.Runs;
using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// Runs on three silos in this process (one without the worker role, where the tests' calls and so the coordinators
/// land; two with a device each): pause, resume, stop, checkpoints and their verification, a worker's silo crashing and
/// the coordinator's silo crashing. Every disturbed run must still follow the single-process trainer's loss trajectory.
/// </summary>
public sealed class ClusterRunControlTests : IAsyncLifetime
{
    private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);

    private readonly string corpusPath = Path.Combine(Path.GetTempPath(), $"olm-control-{Guid.NewGuid():N}.txt");
    private readonly DirectoryInfo checkpoints = Directory.CreateTempSubdirectory("olm-control-checkpoints-");
    private readonly InMemoryRunStore store = new();
    private readonly CapturingLoggers logs = new();
    private InProcessCluster? cluster;

    private InProcessCluster Cluster => cluster ?? throw new InvalidOperationException("the cluster has not started");

    private ClusterSilo Caller => Cluster[0];

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(corpusPath, TrainingEquivalence.Corpus);
        cluster = await InProcessCluster.StartAsync(
            "control", [InProcessCluster.Caller, InProcessCluster.Worker, InProcessCluster.Worker], new RunStorage(store, checkpoints.FullName), logs);
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null) await cluster.DisposeAsync();
        File.Delete(corpusPath);
        checkpoints.Delete(recursive: true);
    }

    [Fact]
    public async Task APausedStoppedAndResumedRunFollowsTheUndisturbedTrajectory()
    {
        var config = Config(steps: 300, checkpointEvery: 50);
        var run = Caller.GrainFactory.GetGrain<ITrainingRunGrain>("pause-stop-resume");

        await run.Start(Spec(config));
        await run.Pause();
        var paused = await Until(run, s => s.State == RunState.Paused);
        await Task.Delay(300);
        (await run.Status()).Step.Should().Be(paused.Step, "a paused run takes no steps");

        await run.Resume();
        await Until(run, s => s.Step >= paused.Step + 5);
        await run.Stop();
        var stopped = await TrainingEquivalence.RunToEndAsync(run, Patience);
        stopped.State.Should().Be(RunState.Stopped);
        stopped.CheckpointStep.Should().Be(stopped.Step, "a stopped run writes a checkpoint");
        stopped.Step.Should().BeLessThan(300);
        (await store.LoadAsync("pause-stop-resume", default))!.State.Should().Be(RunState.Stopped);

        await run.Resume();
        var completed = await TrainingEquivalence.RunToEndAsync(run, Patience);
        completed.Error.Should().BeNull();
        completed.State.Should().Be(RunState.Completed);
        completed.Eta.Should().BeNull();
        completed.TokensPerSecond.Should().BePositive();
        ShouldFollow(completed.Losses, TrainingEquivalence.SingleProcessLosses(config));
    }

    [Fact]
    public async Task ARunReportsItsModelsSizeAndEveryEvaluationAndItsCheckpointsKeepThemAcrossAStop()
    {
        var config = Config(steps: 30, checkpointEvery: 5);
        config = config with { Training = config.TrainingOrDefault with { EvalEvery = 10 } };
        var run = Caller.GrainFactory.GetGrain<ITrainingRunGrain>("shape-and-evaluations");

        await run.Start(Spec(config));
        await Until(run, s => s.Step >= 12);
        await run.Stop();
        var stopped = await TrainingEquivalence.RunToEndAsync(run, Patience);
        stopped.Evaluations.Select(e => e.Step).Should().Equal(10);
        await run.Resume();
        var completed = await TrainingEquivalence.RunToEndAsync(run, Patience);

        completed.State.Should().Be(RunState.Completed);
        completed.Evaluations.Select(e => e.Step).Should().Equal([10, 20, 30], "the evaluation before the stop comes back from the checkpoint");
        completed.Evaluations[0].Loss.Should().Be(stopped.Evaluations[0].Loss);
        completed.Evaluations[^1].Loss.Should().Be(completed.ValidationLoss);
        var (_, corpus) = TrainingRun.LoadData(config.Data);
        using var model = TrainingRun.BuildModel(config, corpus.VocabularySize);
        completed.Shape.Should().Be(new RunShape(model.ParameterCount, model.FlopsPerToken(config.Data.BlockSize), 4 * 8));
        completed.Tokens.Should().Be(30 * 4 * 8, "every step trains on batch_size rows of block_size targets");

        // A coordinator that activates for the ended run (its silo lost) shows the history its checkpoint kept.
        await Caller.CrashAsync();
        var recalled = await StatusFromAnotherSiloAsync("shape-and-evaluations");
        recalled.State.Should().Be(RunState.Completed);
        recalled.Losses.Should().Equal(completed.Losses);
        recalled.Evaluations.Should().Equal(completed.Evaluations);
        recalled.ValidationLoss.Should().Be(completed.ValidationLoss);
        recalled.Shape.Should().Be(completed.Shape);
        recalled.Tokens.Should().Be(completed.Tokens);
    }

    /// <summary>The run's status from a silo that survives: calls reach the crashed silo until the cluster declares it dead.</summary>
    private async Task<RunStatus> StatusFromAnotherSiloAsync(string runId)
    {
        var run = Cluster[1].GrainFactory.GetGrain<ITrainingRunGrain>(runId);
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            try
            {
                return await run.Status();
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException && DateTime.UtcNow < deadline)
            {
                await Task.Delay(500);
            }
        }
    }

    [Fact]
    public async Task TheRunsMetricsRecordEveryStepsProgressPhasesAndParameterTraffic()
    {
        const int steps = 20, workers = 2, shards = 3;
        var config = Config(steps: steps, checkpointEvery: 0);
        config = config with { Training = config.TrainingOrDefault with { EvalEvery = 10 } };
        const string runId = "metered";
        using var recorder = new MeasurementRecorder(TrainingMeters.Name);
        var run = Caller.GrainFactory.GetGrain<ITrainingRunGrain>(runId);

        await run.Start(Spec(config));
        var completed = await TrainingEquivalence.RunToEndAsync(run, Patience);

        completed.State.Should().Be(RunState.Completed);
        List<RecordedMeasurement> Of(string instrument) => [.. recorder.Of(instrument).Where(m => m.Tag("run") == runId)];
        Of("olm.training.loss").Should().OnlyContain(m => m.Tag("model") == "transformer");
        Of("olm.training.loss").Select(m => m.Value).Should().Equal(completed.Losses);
        Of("olm.training.step").Select(m => m.Value).Should().Equal(Enumerable.Range(1, steps).Select(s => (double)s));
        Of("olm.training.tokens").Sum(m => m.Value).Should().Be(completed.Tokens);
        Of("olm.training.validation.loss").Select(m => m.Value).Should().Equal(completed.Evaluations.Select(e => e.Loss));
        Of("olm.training.validation.perplexity").Select(m => m.Value).Should().Equal(completed.Evaluations.Select(e => Math.Exp(e.Loss)));
        var schedule = config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, steps);
        Of("olm.training.learning_rate").Select(m => m.Value).Should().Equal(Enumerable.Range(0, steps).Select(s => schedule.LearningRateAt(s)));
        Of("olm.training.gradient_norm").Should().HaveCount(steps).And.OnlyContain(m => double.IsFinite(m.Value) && m.Value > 0);
        Of("olm.training.step.duration").Should().HaveCount(steps).And.OnlyContain(m => m.Value > 0);
        Of("olm.training.running").Select(m => m.Value).Should().StartWith(1.0).And.EndWith(0.0);

        var phases = Of("olm.training.phase.duration");
        foreach (var phase in new[] { "pull", "data", "forward", "backward", "push" })
            phases.Where(m => m.Tag("phase") == phase).GroupBy(m => m.Tag("rank")).Select(g => (g.Key, g.Count()))
                .Should().BeEquivalentTo([("0", steps), ("1", steps)], $"each worker reports its {phase} time every step");
        phases.Where(m => m.Tag("phase") == "aggregate").GroupBy(m => m.Tag("shard")).Select(g => (g.Key, g.Count()))
            .Should().BeEquivalentTo(Enumerable.Range(0, shards).Select(k => (k.ToString(), steps)), "each shard aggregates every step");
        phases.Should().OnlyContain(m => m.Value >= 0);

        var parameterBytes = completed.Shape!.Parameters * sizeof(float);
        Of("olm.ps.received").GroupBy(m => m.Tag("shard")).Should().HaveCount(shards);
        Of("olm.ps.received").Sum(m => m.Value).Should().Be(steps * workers * parameterBytes, "every worker pushes a gradient of every parameter each step");
        Of("olm.ps.sent").Sum(m => m.Value).Should().BeGreaterThanOrEqualTo(steps * workers * parameterBytes, "every worker pulls every parameter each step (and to evaluate)");
        Of("olm.ps.aggregation.duration").Should().HaveCount(steps * shards);
    }

    [Fact]
    public async Task AnEndedRunGivesItsWorkersDevicesBackSoTheNextRunTrainsAtOnce()
    {
        // Each worker silo has one device, which the first run's workers hold; they would keep it for the idle
        // collection's 15 minutes, and the second run would find none and fail after 3 minutes without progress.
        foreach (var id in new[] { "first-of-two", "second-of-two" })
        {
            var run = Caller.GrainFactory.GetGrain<ITrainingRunGrain>(id);
            await run.Start(Spec(Config(steps: 5, checkpointEvery: 0, id)));
            var ended = await TrainingEquivalence.RunToEndAsync(run, TimeSpan.FromSeconds(60));
            ended.State.Should().Be(RunState.Completed, ended.Error);
            ended.Step.Should().Be(5);
        }
    }

    [Fact]
    public async Task ResumeSkipsADamagedAndAPartialCheckpointForTheNewestValidOne()
    {
        var config = Config(steps: 300, checkpointEvery: 20);
        var run = Caller.GrainFactory.GetGrain<ITrainingRunGrain>("damaged");
        await run.Start(Spec(config));
        await Until(run, s => s.CheckpointStep >= 40);
        await run.Stop();
        var stopped = await TrainingEquivalence.RunToEndAsync(run, Patience);
        stopped.State.Should().Be(RunState.Stopped);
        var runDirectory = config.TrainingOrDefault.Checkpoint!;
        var newest = RunManifest.Directory(runDirectory, stopped.Step);
        var damaged = Path.Combine(newest, CheckpointFiles.ShardFileName(1));
        var bytes = await File.ReadAllBytesAsync(damaged);
        bytes[bytes.Length / 2] ^= 0xFF;
        await File.WriteAllBytesAsync(damaged, bytes);
        var partial = RunManifest.Directory(runDirectory, stopped.Step + 1);
        Directory.CreateDirectory(partial);
        File.Copy(Path.Combine(newest, CheckpointFiles.ShardFileName(0)), Path.Combine(partial, CheckpointFiles.ShardFileName(0)));

        await run.Resume();
        var completed = await TrainingEquivalence.RunToEndAsync(run, Patience);

        completed.Error.Should().BeNull();
        completed.State.Should().Be(RunState.Completed);
        logs.Messages.Should().Contain(m => m.Contains($"skipping checkpoint {partial}") && m.Contains(RunManifest.FileName));
        logs.Messages.Should().Contain(m => m.Contains($"skipping checkpoint {newest}") && m.Contains("checksum mismatch"));
        logs.Messages.Should().Contain(m => m.Contains($"restored from the checkpoint of step {(stopped.Step - 1) / 20 * 20}"));
        ShouldFollow(completed.Losses, TrainingEquivalence.SingleProcessLosses(config));
        RunManifest.ReadVerified(RunManifest.Directory(runDirectory, 300), "damaged").Losses.Should().Equal(completed.Losses);
    }

    [Fact]
    public async Task AWorkersSiloCrashingMidRunLeavesTheOtherWorkerWithAllPartsOnTheSameTrajectory()
    {
        var config = Config(steps: 150, checkpointEvery: 10);
        var run = Caller.GrainFactory.GetGrain<ITrainingRunGrain>("worker-crash");
        await run.Start(Spec(config));
        await Until(run, s => s.Step >= 20);

        await Cluster[2].CrashAsync();
        var completed = await TrainingEquivalence.RunToEndAsync(run, Patience);

        completed.Error.Should().BeNull();
        completed.State.Should().Be(RunState.Completed);
        completed.Workers.Should().Be(1, "the crashed silo's device is gone and the other silo's only device is taken");
        logs.Messages.Should().Contain(m => m.Contains("failed step"));
        ShouldFollow(completed.Losses, TrainingEquivalence.SingleProcessLosses(config));
    }

    [Fact]
    public async Task ACoordinatorLostWithItsSiloContinuesFromTheNewestCheckpointWhereverItIsCalledNext()
    {
        var config = Config(steps: 150, checkpointEvery: 10);
        var lost = Cluster[0];
        var run = lost.GrainFactory.GetGrain<ITrainingRunGrain>("coordinator-crash");
        await run.Start(Spec(config));
        await Until(run, s => s.CheckpointStep >= 20);

        await lost.CrashAsync();
        var elsewhere = Cluster[1].GrainFactory.GetGrain<ITrainingRunGrain>("coordinator-crash");
        RunStatus? completed = null;
        var deadline = DateTime.UtcNow + Patience;
        while (completed is not { State: RunState.Completed or RunState.Failed } && DateTime.UtcNow < deadline)
        {
            try
            {
                completed = await elsewhere.WaitForEnd(TimeSpan.FromSeconds(5));
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                // Calls go to the crashed silo until the cluster declares it dead.
                await Task.Delay(500);
            }
        }

        completed.Should().NotBeNull();
        completed!.Error.Should().BeNull();
        completed.State.Should().Be(RunState.Completed);
        logs.Messages.Should().Contain(m => m.Contains("was running when its coordinator was lost"));
        ShouldFollow(completed.Losses, TrainingEquivalence.SingleProcessLosses(config));
    }

    [Fact]
    public async Task AnNGramRunIsCountedByItsDataShardsIntoTheModelOlmTrainWrites()
    {
        var config = new RunConfig(new DataSection(corpusPath, BlockSize: 8, BatchSize: 4, Seed: 7), new NGramSection(Order: 3));
        var run = Caller.GrainFactory.GetGrain<ITrainingRunGrain>("ngram");

        await run.Start(new RunSpec(ConfigFile.ToJson(config), Workers: 3, ParameterServers: 1));
        var completed = await TrainingEquivalence.RunToEndAsync(run, Patience);

        completed.Error.Should().BeNull();
        completed.State.Should().Be(RunState.Completed);
        var single = TrainingRun.Execute(config);
        completed.ValidationLoss.Should().BeApproximately(single.ValidationLoss, 1e-12);
        var modelPath = TrainingRunGrain.NGramModelPath(new RunSpec("", 3, 1, Path.Combine(checkpoints.FullName, "ngram")));
        var (model, _, _) = TrainingRun.LoadForInference(modelPath);
        model.Dispose();
    }

    [Fact]
    public async Task ControlCallsOnARunThatIsNotRunningAreRefusedNamingTheState()
    {
        var run = Caller.GrainFactory.GetGrain<ITrainingRunGrain>("never-started");
        await run.Invoking(r => r.Resume()).Should().ThrowAsync<InvalidOperationException>().WithMessage("*never started*");
        await run.Invoking(r => r.Pause()).Should().ThrowAsync<InvalidOperationException>().WithMessage("*NotStarted*nothing to pause*");

        var finished = Caller.GrainFactory.GetGrain<ITrainingRunGrain>("finished");
        await finished.Start(Spec(Config(steps: 3, checkpointEvery: 0)));
        (await TrainingEquivalence.RunToEndAsync(finished, Patience)).State.Should().Be(RunState.Completed);
        await finished.Invoking(r => r.Stop()).Should().ThrowAsync<InvalidOperationException>().WithMessage("*Completed*nothing to stop*");
        await finished.Invoking(r => r.Resume()).Should().ThrowAsync<InvalidOperationException>().WithMessage("*completed its 3 steps*");
        await finished.Invoking(r => r.Start(Spec(Config(steps: 3, checkpointEvery: 0)))).Should().ThrowAsync<InvalidOperationException>().WithMessage("*already exists*");
    }

    // training.checkpoint is the run's checkpoint directory on the cluster.
    private RunConfig Config(long steps, int checkpointEvery, [CallerMemberName] string test = "")
    {
        var config = TrainingEquivalence.Config(corpusPath, "transformer", steps: (int)steps, batchSize: 4);
        return config with
        {
            Training = config.TrainingOrDefault with { Checkpoint = Path.Combine(checkpoints.FullName, test), CheckpointEvery = checkpointEvery },
        };
    }

    private static RunSpec Spec(RunConfig config) => new(ConfigFile.ToJson(config), Workers: 2, ParameterServers: 3);

    private static void ShouldFollow(IReadOnlyList<double> losses, IReadOnlyList<double> expected)
    {
        losses.Should().HaveCount(expected.Count);
        for (var step = 0; step < expected.Count; step++)
            losses[step].Should().BeApproximately(expected[step], 1e-4 * Math.Abs(expected[step]), $"step {step}");
    }

    private static async Task<RunStatus> Until(ITrainingRunGrain run, Func<RunStatus, bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            var status = await run.Status();
            if (condition(status)) return status;
            status.State.Should().BeOneOf([RunState.Running, RunState.Paused], $"the run should still be going ({status.Error})");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"the run did not get there in {Patience}: {status}");
            await Task.Delay(20);
        }
    }

    /// <summary>Every message the silos log, formatted, so tests can see what the coordinator reported.</summary>
    private sealed class CapturingLoggers : ILoggerFactory, ILoggerProvider
    {
        private readonly ConcurrentQueue<string> messages = new();

        public IReadOnlyCollection<string> Messages => messages;

        public ILogger CreateLogger(string categoryName) => new Capturing(messages);

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public void Dispose()
        {
        }

        private sealed class Capturing(ConcurrentQueue<string> messages) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (IsEnabled(logLevel)) messages.Enqueue(formatter(state, exception));
            }
        }
    }
}
