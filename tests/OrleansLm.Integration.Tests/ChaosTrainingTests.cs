using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using OrleansLm.Model.Training;
using OrleansLm.Runtime;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Grains;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Runs;
using OrleansLm.Testing;
using OrleansLm.Testing.Processes;
using Xunit.Abstractions;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// Faults only real processes have: three silo application processes (role worker, one device each) with membership
/// and run state in a real PostgreSQL and checkpoints under one root on this machine's disk, and a silo in the test
/// process where the test's calls, and so the coordinator, land. Worker silos are SIGKILLed at random steps of a
/// running run and started again; the whole cluster is killed and started again with nobody calling.
/// </summary>
public sealed class ChaosTrainingTests(PostgresFixture postgres, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    /// <summary>Set to a seed a failed run logged to replay its kills.</summary>
    public const string SeedVariable = "OLM_CHAOS_SEED";

    private const int SiloProcesses = 3;
    private const int Workers = 3;
    private const int ParameterServers = 3;
    private const int CheckpointEvery = 20;
    private const int ChaosSteps = 400;
    private const int Kills = 3;

    /// <summary>Bounds every wait on a run; the tests take far less unless something is wrong.</summary>
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(2);

    private readonly string corpusPath = Path.Combine(Path.GetTempPath(), $"olm-chaos-{Guid.NewGuid():N}.txt");
    private readonly DirectoryInfo checkpointRoot = Directory.CreateTempSubdirectory("olm-chaos-checkpoints-");
    private readonly List<PostgresRunStore> stores = [];

    private string Connection => postgres.Server.ConnectionString();

    public Task InitializeAsync() => File.WriteAllTextAsync(corpusPath, TrainingEquivalence.Corpus);

    public async Task DisposeAsync()
    {
        foreach (var store in stores) await store.DisposeAsync();
        File.Delete(corpusPath);
        checkpointRoot.Delete(recursive: true);
    }

    [Fact]
    public async Task WorkerSilosKilledAtRandomStepsLeaveARunThatCompletesOnTheUndisturbedTrajectory()
    {
        var seed = Environment.GetEnvironmentVariable(SeedVariable) is { } chosen ? int.Parse(chosen, CultureInfo.InvariantCulture) : Random.Shared.Next();
        var random = new Random(seed);
        // One kill in each of Kills equal windows of the first two thirds: the run has time left to get its workers back.
        var window = (ChaosSteps * 2 / 3 - CheckpointEvery) / Kills;
        var killSteps = Enumerable.Range(0, Kills).Select(i => CheckpointEvery + i * window + random.Next(window)).ToArray();
        output.WriteLine($"[test] chaos seed {seed} ({SeedVariable}={seed} replays it): SIGKILLs at steps {string.Join(", ", killSteps)}");
        var config = Config(ChaosSteps);
        var (expected, undisturbedValidation) = TrainingEquivalence.SingleProcessRun(config);

        await using var cluster = new ProcessCluster(output);
        await StartProcessesAsync(cluster);
        var (caller, _) = await StartCallerAsync(cluster);
        const string runId = "chaos-kills";
        var run = caller.GrainFactory.GetGrain<ITrainingRunGrain>(runId);
        await run.Start(Spec(config));

        var samples = StatusSamples.Start(run);
        var kills = new List<TimeSpan>();
        foreach (var step in killSteps)
        {
            var status = await samples.UntilAsync(s => s.Step >= step || s.State != RunState.Running, RunLimit);
            status.State.Should().Be(RunState.Running, $"the run should still be going at the kill of step {step} ({status.Error})");
            kills.Add(samples.Elapsed);
            var victim = await KillOneAsync(caller, cluster, runId, random, status.Step);
            var successor = await cluster.RestartAsync(victim);
            output.WriteLine($"[test] {successor.Name} ({successor.Address}) started in place of {victim.Name}");
        }
        var completed = await TrainingEquivalence.RunToEndAsync(run, RunLimit);
        await samples.StopAsync();
        samples.Describe(output, kills, Workers);

        // Every step's loss is the undisturbed trainer's: a step in flight at a kill was redone, none was lost or doubled.
        TrainingEquivalence.ShouldReproduce(completed, expected);
        completed.ValidationLoss.Should().BeApproximately(undisturbedValidation, 0.02 * undisturbedValidation);
        // All workers again after one was lost: each silo process has one device, so the newest one holds a worker.
        kills.Should().Contain(kill => samples.WorkersBackAfter(kill, Workers) != null,
            "after a kill the missing worker takes the device of the silo started in its place");

        var restores = cluster.CallerLines.Where(line => line.Contains($"run {runId} restored from the checkpoint of step")).ToList();
        output.WriteLine($"[test] the coordinator restored the parameter servers from a checkpoint {restores.Count} times");
        // A checkpoint cut short by a kill has no manifest and is skipped; one whose files do not match their manifest must never appear.
        cluster.CallerLines.Should().NotContain(line => line.Contains("checksum mismatch"));
        var runDirectory = Path.Combine(checkpointRoot.FullName, runId);
        var checkpoints = Directory.GetDirectories(runDirectory);
        checkpoints.Should().NotBeEmpty();
        foreach (var directory in checkpoints)
            RunManifest.ReadVerified(directory, runId).Step.Should().BeLessThanOrEqualTo(ChaosSteps);
        RunManifest.ReadVerified(RunManifest.Directory(runDirectory, ChaosSteps), runId).Losses.Should().Equal(completed.Losses);
    }

    [Fact]
    public async Task AfterTheWholeClusterIsKilledFreshSilosContinueTheRunFromItsNewestCheckpointWithNobodyCalling()
    {
        const int steps = 200;
        var config = Config(steps);
        var expected = TrainingEquivalence.SingleProcessLosses(config);

        await using var cluster = new ProcessCluster(output);
        await StartProcessesAsync(cluster);
        var (first, firstStore) = await StartCallerAsync(cluster);
        const string runId = "chaos-restart";
        var run = first.GrainFactory.GetGrain<ITrainingRunGrain>(runId);
        await run.Start(Spec(config));
        await Eventually.HoldsAsync(async () => (await run.Status()).CheckpointStep >= 2 * CheckpointEvery, RunLimit, "the run wrote two checkpoints");

        foreach (var process in cluster.Processes) process.Kill();
        await first.CrashAsync();
        // The crashed silo's coordinator loop lives on in this process: without its store it cannot write the run's row.
        await firstStore.DisposeAsync();
        var newest = RunManifest.NewestValid(Path.Combine(checkpointRoot.FullName, runId), runId, (_, _) => { });
        newest.Should().NotBeNull();
        newest!.Step.Should().BeLessThan(steps);
        var rows = NewStore(cluster);
        (await rows.LoadAsync(runId, CancellationToken.None))!.State.Should().Be(RunState.Running);
        output.WriteLine($"[test] every silo killed; the newest checkpoint is of step {newest.Step}; starting fresh silo processes");

        await Task.WhenAll(cluster.Processes.Select(cluster.RestartAsync));
        RunRecord? record = null;
        await Eventually.HoldsAsync(
            async () => (record = await rows.LoadAsync(runId, CancellationToken.None)) is { Unfinished: false }, RunLimit,
            "the fresh silos find the run in PostgreSQL and finish it");

        record!.State.Should().Be(RunState.Completed, record.Error);
        var logged = cluster.Processes.SelectMany(p => p.Lines).ToList();
        logged.Should().Contain(line => line.Contains($"run {runId} was running when its coordinator was lost"));
        logged.Should().Contain(line => line.Contains($"run {runId} restored from the checkpoint of step {newest.Step}"));
        var (observer, _) = await StartCallerAsync(cluster);
        var status = await observer.GrainFactory.GetGrain<ITrainingRunGrain>(runId).Status();
        TrainingEquivalence.ShouldReproduce(status, expected);
    }

    private RunConfig Config(int steps)
    {
        var config = TrainingEquivalence.Config(corpusPath, "transformer", steps, batchSize: 2 * Workers);
        return config with { Training = config.TrainingOrDefault with { CheckpointEvery = CheckpointEvery } };
    }

    private static RunSpec Spec(RunConfig config) => new(ConfigFile.ToJson(config), Workers, ParameterServers);

    private Task StartProcessesAsync(ProcessCluster cluster) => Task.WhenAll(Enumerable.Range(0, SiloProcesses).Select(_ =>
        cluster.StartProcessAsync(SiloApplication.Launch(cluster, Connection, [SiloGrains.WorkerRole], devices: 1, checkpointRoot.FullName))));

    /// <summary>The test's silo, keeping run state where the processes do: the cluster's rows in PostgreSQL, checkpoints under the same root.</summary>
    private async Task<(ClusterSilo Silo, PostgresRunStore Store)> StartCallerAsync(ProcessCluster cluster)
    {
        var store = NewStore(cluster);
        var storage = new RunStorage(store, checkpointRoot.FullName);
        return (await cluster.StartCallerAsync(SiloApplication.Caller(cluster, Connection), grains => SiloGrains.Register(grains, storage)), store);
    }

    private PostgresRunStore NewStore(ProcessCluster cluster)
    {
        var store = new PostgresRunStore(Connection, cluster.ClusterId);
        stores.Add(store);
        return store;
    }

    /// <summary>SIGKILLs a process, chosen at random among those holding one of the run's workers, and says what went with it.</summary>
    private async Task<SiloProcess> KillOneAsync(ClusterSilo caller, ProcessCluster cluster, string runId, Random random, long step)
    {
        var workers = await HomesAsync<IWorkerGrain>(caller, runId, Workers);
        var shards = await HomesAsync<IParameterServerGrain>(caller, runId, ParameterServers);
        var running = cluster.Processes.Where(p => !p.HasExited).ToList();
        var holding = running.Where(p => workers.Contains(p.Address)).ToList();
        var victim = (holding.Count > 0 ? holding : running)[random.Next(holding.Count > 0 ? holding.Count : running.Count)];
        string On(SiloAddress?[] homes) => string.Join(", ", homes.Select((home, i) => (home, i)).Where(h => h.home == victim.Address).Select(h => h.i));
        var lostShards = On(shards);
        output.WriteLine($"[test] SIGKILL {victim.Name} ({victim.Address}) at step {step}: workers [{On(workers)}], parameter-server shards [{lostShards}]"
            + (lostShards.Length > 0 ? ": the run must restore from its newest checkpoint" : ": the others take the worker's parts"));
        victim.Kill();
        return victim;
    }

    private static Task<SiloAddress?[]> HomesAsync<TGrain>(ClusterSilo caller, string runId, int count) =>
        Task.WhenAll(Enumerable.Range(0, count).Select(i => caller.Directory.LookupAsync(GrainId.Create(typeof(TGrain), runId, i)).AsTask()));

    private sealed record Sample(TimeSpan At, long Step, int Workers, RunState State, string? Error);

    /// <summary>The run's status, read every few milliseconds while the test disturbs it: how many workers took part, when.</summary>
    private sealed class StatusSamples
    {
        private static readonly TimeSpan Every = TimeSpan.FromMilliseconds(50);

        private readonly ConcurrentQueue<Sample> samples = new();
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private readonly CancellationTokenSource stop = new();
        private Task sampling = Task.CompletedTask;

        public TimeSpan Elapsed => clock.Elapsed;

        public IReadOnlyCollection<Sample> All => samples;

        public static StatusSamples Start(ITrainingRunGrain run)
        {
            var samples = new StatusSamples();
            samples.sampling = samples.SampleAsync(run);
            return samples;
        }

        /// <summary>
        /// When, after <paramref name="kill"/>, the run had <paramref name="workers"/> workers again once it had noticed
        /// the loss (fewer workers); null if it never did.
        /// </summary>
        public Sample? WorkersBackAfter(TimeSpan kill, int workers)
        {
            var drop = samples.FirstOrDefault(s => s.At > kill && s.Workers < workers);
            return drop is null ? null : samples.FirstOrDefault(s => s.At > drop.At && s.Workers == workers);
        }

        /// <summary>Writes every change in the number of workers, and when each kill's run had all <paramref name="workers"/> again.</summary>
        public void Describe(ITestOutputHelper output, IReadOnlyList<TimeSpan> kills, int workers)
        {
            Sample? previous = null;
            foreach (var sample in samples.Where(s => s.State == RunState.Running))
            {
                if (previous is not null && sample.Workers != previous.Workers)
                    output.WriteLine($"[test] {sample.At.TotalSeconds:F1} s, step {sample.Step}: {previous.Workers} → {sample.Workers} workers");
                previous = sample;
            }
            foreach (var (kill, i) in kills.Select((k, i) => (k, i)))
            {
                var back = WorkersBackAfter(kill, workers);
                output.WriteLine($"[test] kill {i} at {kill.TotalSeconds:F1} s: "
                    + (back is null ? "the run went on without all its workers" : $"all workers again at {back.At.TotalSeconds:F1} s, step {back.Step}"));
            }
        }

        /// <summary>The first sample from now on that satisfies <paramref name="condition"/>.</summary>
        public async Task<Sample> UntilAsync(Func<Sample, bool> condition, TimeSpan timeout)
        {
            Sample? found = null;
            var from = samples.Count;
            await Eventually.HoldsAsync(() => (found = samples.Skip(from).FirstOrDefault(condition)) is not null, timeout, "the run's status got there");
            return found!;
        }

        public async Task StopAsync()
        {
            await stop.CancelAsync();
            await sampling;
            stop.Dispose();
        }

        private async Task SampleAsync(ITrainingRunGrain run)
        {
            while (!stop.IsCancellationRequested)
            {
                var status = await run.Status();
                samples.Enqueue(new Sample(clock.Elapsed, status.Step, status.Workers, status.State, status.Error));
                try
                {
                    await Task.Delay(Every, stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
