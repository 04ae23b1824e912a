using OrleansLm.Model.Training;
using OrleansLm.Runtime;
using OrleansLm.Runtime.Grains;
using OrleansLm.Silo.Grains;
using OrleansLm.Testing;
using OrleansLm.Testing.Processes;
using Xunit.Abstractions;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// The silo application as three OS processes (role worker, one device each) with membership in a real PostgreSQL,
/// and a silo in the test process (no role, no device) that starts the run: N workers in N processes reproduce the
/// single-process <see cref="Trainer"/>. The coordinator and parameter-server shards are placed at random, so they
/// may run on any of the four silos, this process's included.
/// </summary>
public sealed class MultiProcessTrainingTests(PostgresFixture postgres, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private const int SiloProcesses = 3;
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(2);

    private readonly string corpusPath = Path.Combine(Path.GetTempPath(), $"olm-processes-{Guid.NewGuid():N}.txt");

    public Task InitializeAsync() => File.WriteAllTextAsync(corpusPath, TrainingEquivalence.Corpus);

    public Task DisposeAsync()
    {
        File.Delete(corpusPath);
        return Task.CompletedTask;
    }

    [Theory]
    [InlineData("transformer", 3)]
    [InlineData("lstm", 2)]
    public async Task WorkersInSeparateSiloProcessesReproduceTheSingleProcessTrainer(string family, int workers)
    {
        var config = TrainingEquivalence.Config(corpusPath, family, steps: 50, batchSize: 6);
        var expected = TrainingEquivalence.SingleProcessLosses(config);

        await using var cluster = new ProcessCluster(output);
        var connection = postgres.Server.ConnectionString();
        await Task.WhenAll(Enumerable.Range(0, SiloProcesses)
            .Select(_ => cluster.StartProcessAsync(SiloApplication.Launch(cluster, connection, [SiloGrains.WorkerRole], devices: 1))));
        var caller = await cluster.StartCallerAsync(SiloApplication.Caller(cluster, connection), SiloGrains.Register);

        var runId = $"processes-{family}";
        var run = caller.GrainFactory.GetGrain<ITrainingRunGrain>(runId);
        await run.Start(new RunSpec(ConfigFile.ToJson(config), workers, ParameterServers: 2));
        // Where the cluster's directory has each worker's activation while the run trains (an ended run releases its
        // workers): every one in a silo process of its own.
        SiloAddress?[] homes = [];
        await Eventually.HoldsAsync(async () =>
        {
            homes = await Task.WhenAll(Enumerable.Range(0, workers)
                .Select(rank => caller.Directory.LookupAsync(GrainId.Create(typeof(IWorkerGrain), runId, rank)).AsTask()));
            return homes.All(home => home is not null);
        }, RunLimit, "every worker is activated");
        var status = await TrainingEquivalence.RunToEndAsync(run, RunLimit);

        TrainingEquivalence.ShouldReproduce(status, expected);
        output.WriteLine($"[test] workers of {runId} on {string.Join(", ", homes)}");
        homes.Should().OnlyHaveUniqueItems()
            .And.BeSubsetOf(cluster.Processes.Select(p => p.Address), "workers hold devices, which only the processes have");
        cluster.Processes.Should().OnlyContain(p => !p.HasExited);
    }
}
