using OrleansLm.Protos.Grpc;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.MetricsBench;

/// <summary>What the silo records at a training step's and at a gateway call's end, through its own instruments.</summary>
internal static class Recordings
{
    public const int Workers = 2;
    public const int Shards = 4;

    /// <summary>Parameters of nanoGPT's CPU recipe (bench/nanogpt-cpu.yaml), split over the shards: what their traffic counts.</summary>
    private const long Parameters = 809_856;

    /// <summary>
    /// One step of a run with <see cref="Workers"/> workers and <see cref="Shards"/> shards as the grains record it:
    /// the coordinator's progress, each worker's five phases, each shard's aggregation and traffic (33 measurements).
    /// </summary>
    public static void Step(TrainingMeters.RunLabels run, RunProgress progress, StepTimings timings)
    {
        TrainingMeters.Stepped(run, progress);
        for (var rank = 0; rank < Workers; rank++) TrainingMeters.WorkerStepped(run, rank, timings);
        for (var shard = 0; shard < Shards; shard++)
        {
            TrainingMeters.ShardAggregated(run, shard, timings.Aggregate);
            TrainingMeters.ShardReceivedValues(run, shard, Workers * Parameters / Shards);
            TrainingMeters.ShardSentValues(run, shard, Workers * Parameters / Shards);
        }
    }

    /// <summary>Step <paramref name="step"/>'s values: times spread over the seconds buckets, the loss falling.</summary>
    public static (RunProgress Progress, StepTimings Timings) StepValues(long step, Random random)
    {
        double Seconds(double typical) => typical * (0.5 + random.NextDouble());
        var timings = new StepTimings(Seconds(0.004), Seconds(0.0005), Seconds(0.03), Seconds(0.06), Seconds(0.004), Seconds(0.002));
        var duration = TimeSpan.FromSeconds(timings.Pull + timings.Data + timings.Forward + timings.Backward + timings.Push + timings.Aggregate);
        var tokens = 12L * 64;
        return (new RunProgress(step, 4.2 / Math.Sqrt(step), tokens, tokens / duration.TotalSeconds, 1e-3, 0.5 + random.NextDouble(), duration), timings);
    }

    /// <summary>One gateway call, as the dispatcher measures it.</summary>
    public static void GatewayCall(string method, bool streaming, StatusCode code) => GatewayMeters.Begin(method, streaming).End(code);
}
