using System.Diagnostics;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Runtime;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Membership;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Runs;

namespace OrleansLm.TrainingBench;

/// <summary>
/// A cluster run: one <see cref="ClusterSilo"/> per worker in this process (role worker, one device each; loopback TCP
/// between them, one in-memory membership table), the run started from the first silo, so its coordinator lives there.
/// Every run gets new silos, whose devices are free and whose transports have sent nothing yet.
/// </summary>
internal static class ClusterPeer
{
    private const string Secret = "training-bench";
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(10);

    /// <summary>
    /// How often the coordinator is asked for its step: it tells when a step ended to within this (plus a local call),
    /// at the cost of a few µs of CPU per ask.
    /// </summary>
    private static readonly TimeSpan PollEvery = TimeSpan.FromMilliseconds(1);

    /// <summary>
    /// Trains <paramref name="config"/> (its batch split over <paramref name="workers"/> workers) with
    /// <paramref name="shards"/> parameter-server shards; measures the steps after the first <paramref name="warmup"/>.
    /// </summary>
    public static async Task<RunResult> RunAsync(RunConfig config, int workers, int shards, int warmup, ParameterLayout layout, string runId)
    {
        var checkpoints = Directory.CreateTempSubdirectory("olm-training-bench-");
        var storage = new RunStorage(new InMemoryRunStore(), checkpoints.FullName);
        var table = new InMemoryMembershipTable();
        var silos = new List<ClusterSilo>();
        try
        {
            for (var i = 0; i < workers; i++)
            {
                var silo = new ClusterSilo(new ClusterSiloOptions
                {
                    ClusterId = "training-bench", ClusterSecret = Secret, MembershipTable = table, Roles = [SiloGrains.WorkerRole], Devices = 1,
                }, grains => SiloGrains.Register(grains, storage));
                silos.Add(silo);
                await silo.StartAsync(CancellationToken.None);
            }
            // Every silo reads the table now, so all agree on the members (placement, directory ring) from the first call.
            await Task.WhenAll(silos.Select(s => s.Membership.RefreshAsync(CancellationToken.None)));

            var run = silos[0].GrainFactory.GetGrain<ITrainingRunGrain>(runId);
            await run.Start(new RunSpec(ConfigFile.ToJson(config), workers, shards, checkpoints.FullName));
            var first = await SnapshotAtAsync(run, silos, warmup);
            var last = await SnapshotAtAsync(run, silos, config.TrainingOrDefault.Steps);
            var threads = ThreadPool.ThreadCount;
            var status = await run.WaitForEnd(RunLimit);
            if (status.State != RunState.Completed)
                throw new InvalidOperationException($"cluster run {runId} ended {status.State}: {status.Error ?? "no error reported"}");

            var (placement, parameterBytes) = await PlacementAsync(silos, runId, workers, layout.Split(shards));
            var steps = last.Step - first.Step;
            return new RunResult(Stopwatch.GetElapsedTime(first.Timestamp, last.Timestamp).TotalSeconds / steps, status.Losses, status.ValidationLoss)
            {
                Cluster = new ClusterStep((last.BytesSent - first.BytesSent) / (double)steps, parameterBytes, PerStep(first, last), placement, threads),
            };
        }
        finally
        {
            foreach (var silo in silos) await silo.DisposeAsync();
            checkpoints.Delete(recursive: true);
        }
    }

    /// <summary>
    /// The run as soon as it has done <paramref name="step"/> steps (or more, if it was quicker than the asking). The bytes
    /// are those sent before the ask that saw the step done: then that step's pushes had been sent (the shards' norm and
    /// update, several ms, come after them) but no pull of the next step, whose values would otherwise count at one end
    /// of the timed steps and not at the other, depending on how soon the ask came.
    /// </summary>
    private static async Task<Snapshot> SnapshotAtAsync(ITrainingRunGrain run, IReadOnlyList<ClusterSilo> silos, long step)
    {
        while (true)
        {
            var bytes = silos.Sum(s => s.Transport.Traffic.BytesSent);
            var status = await run.Status();
            if (status.State is RunState.Failed or RunState.Stopped)
                throw new InvalidOperationException($"cluster run {status.RunId} {status.State} at step {status.Step}: {status.Error ?? "no error reported"}");
            if (status.Step >= step)
            {
                var timestamp = Stopwatch.GetTimestamp();
                var timings = await run.Timings();
                // Timings are means over the steps done when they were read: they belong to this status only if no step ended meanwhile.
                if ((await run.Status()).Step == status.Step)
                    return new Snapshot(status.Step, timestamp, bytes, timings.Over(1.0 / status.Step)); // means × steps: totals
            }
            await Task.Delay(PollEvery);
        }
    }

    /// <summary>The phases' seconds per step between two snapshots.</summary>
    private static StepTimings PerStep(Snapshot first, Snapshot last)
    {
        var (a, b, steps) = (first.Total, last.Total, last.Step - first.Step);
        return new StepTimings(b.Pull - a.Pull, b.Data - a.Data, b.Forward - a.Forward, b.Backward - a.Backward, b.Push - a.Push, b.Aggregate - a.Aggregate)
            .Over(steps);
    }

    /// <summary>
    /// Where the coordinator, the workers and the shards live (silo indices), checked to be one worker per silo; and the
    /// bytes per step the parameters must cross silos: each shard's pull and push for every worker on another silo.
    /// </summary>
    private static async Task<(string Placement, double ParameterBytes)> PlacementAsync(
        IReadOnlyList<ClusterSilo> silos, string runId, int workers, IReadOnlyList<ShardRange> shards)
    {
        async Task<int> SiloOf(Type grain, long index)
        {
            var home = await silos[0].Directory.LookupAsync(GrainId.Create(grain, runId, index))
                       ?? throw new InvalidOperationException($"{grain.Name} {index} of run {runId} has no activation");
            return silos.Select(s => s.Address).ToList().IndexOf(home);
        }

        var workerHomes = await Task.WhenAll(Enumerable.Range(0, workers).Select(rank => SiloOf(typeof(IWorkerGrain), rank)));
        var shardHomes = await Task.WhenAll(shards.Select(shard => SiloOf(typeof(IParameterServerGrain), shard.Index)));
        if (workerHomes.Distinct().Count() != workers)
            throw new InvalidOperationException($"the workers of run {runId} live on silos [{string.Join(", ", workerHomes)}], not one per silo");
        var parameterBytes = workerHomes.Sum(worker => shards.Where((_, k) => shardHomes[k] != worker).Sum(shard => 2.0 * sizeof(float) * shard.Length));
        return ($"coordinator on silo 0, workers on [{string.Join(", ", workerHomes)}], shards on [{string.Join(", ", shardHomes)}]", parameterBytes);
    }

    /// <param name="Total">The phases' seconds summed over the <paramref name="Step"/> steps done.</param>
    private sealed record Snapshot(long Step, long Timestamp, long BytesSent, StepTimings Total);
}
