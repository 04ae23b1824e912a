using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansLm.Bench;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Silo.Grains;
using OrleansLm.TrainingBench;

// Usage: OrleansLm.TrainingBench [--warmup 10] [--steps 50] [--rounds 5] [--workers 2] [--shards 2] [--threads 1]
//                                [--eval-batches 20] [--local-reps 20] [--quiet-wait-s 60] [--json PATH] CONFIG
// The distributed training step against the single-process trainer, in this process: the Trainer at the per-worker
// batch B (CONFIG's data.batch_size) and at N·B, N Trainers at batch B at once on threads of their own (what the machine
// gives N workers' computations), and N ClusterSilos (loopback TCP, in-memory membership) with one worker each
// training N·B with K = 1..--shards parameter-server shards. Each round runs every configuration once, in
// an order rotated from round to round; the table shows medians over the rounds in which the rest of the machine was
// quiet (see Summary). --json also writes each round's values.

const string Usage =
    "usage: OrleansLm.TrainingBench [--warmup W=10 (steps before timing)] [--steps S=50 (timed steps)] [--rounds R=5]\n" +
    "                               [--workers N=2 (silos, one worker each)] [--shards K=2 (cluster runs with 1..K shards)]\n" +
    "                               [--threads T=1 (libtorch threads, for the trainer and for each worker)] [--eval-batches E=20]\n" +
    "                               [--local-reps L=20 (repetitions of the direct timings)]\n" +
    "                               [--quiet-wait-s Q=60 (before each run, wait up to Q s for a second the CPUs are < 15% busy)]\n" +
    "                               [--json PATH] CONFIG (a run.yaml)";
// The machine may be shared (builds, tests): runs start in a quiet second if one comes soon, and each reports how
// many cores the rest of the machine kept busy meanwhile.
const double QuietBelow = 0.15;

if (args.Length == 0 || args[^1].StartsWith("--", StringComparison.Ordinal))
{
    Console.Error.WriteLine(Usage);
    return 2;
}
var options = BenchArguments.Parse(args[..^1], new Dictionary<string, int>
{
    ["--warmup"] = 10, ["--steps"] = 50, ["--rounds"] = 5, ["--workers"] = 2, ["--shards"] = 2, ["--threads"] = 1, ["--eval-batches"] = 20,
    ["--local-reps"] = 20, ["--quiet-wait-s"] = 60,
}, "--quiet-wait-s");
if (options is null)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
var (warmup, timedSteps, rounds, workers, maxShards) = (options["--warmup"], options["--steps"], options["--rounds"], options["--workers"], options["--shards"]);
var threads = options["--threads"];
var quietWait = TimeSpan.FromSeconds(options["--quiet-wait-s"]);

// Before any tensor exists: every thread that later runs libtorch work starts with this many intra-op threads, and
// OpenBLAS's GEMM pool is set to it too (one process-wide pool, so with T = 1 each worker's GEMMs run on its own thread).
LibTorch.NumThreads = threads;

var recipe = ConfigFile.Load<RunConfig>(args[^1]);
var perWorker = recipe with
{
    // The recipe's learning rates for its first steps: the cosine still decays over the recipe's training.steps.
    Schedule = recipe.ScheduleOrDefault with { DecaySteps = recipe.ScheduleOrDefault.DecaySteps ?? recipe.TrainingOrDefault.Steps },
    Training = recipe.TrainingOrDefault with
    {
        Steps = warmup + timedSteps, EvalEvery = 0, EvalBatches = options["--eval-batches"], Checkpoint = null, CheckpointEvery = 0, MaxSeconds = 0,
    },
};
perWorker.Validate();
var batch = perWorker.Data.BatchSize;
var global = perWorker with { Data = perWorker.Data with { BatchSize = batch * workers } };
var (_, corpus) = TrainingRun.LoadData(perWorker.Data);
ParameterLayout layout;
using (var model = TrainingRun.BuildModel(perWorker, corpus.VocabularySize))
    layout = ParameterLayout.Of(model);
var parameters = layout.Count;
var naiveBytes = 2.0 * parameters * sizeof(float) * workers;

var localBusy = await MachineCpu.WaitForQuietAsync(quietWait, QuietBelow);
Console.Error.WriteLine(Invariant($"== direct timings of the data-parallel pieces, {options["--local-reps"]} repetitions (machine {localBusy:P0} busy before)"));
var localCpu = MachineCpu.Now();
var local = LocalCosts.Measure(global, corpus, workers, options["--local-reps"]);
var localOthers = localCpu.OthersCoresSince();

List<Peer> peers =
[
    new("single", Invariant($"single process, batch {batch}"), 0, _ => Task.FromResult(SingleProcessPeer.Run(perWorker, corpus, warmup))),
    new("single_global", Invariant($"single process, batch {batch * workers}"), 0, _ => Task.FromResult(SingleProcessPeer.Run(global, corpus, warmup))),
    new("single_concurrent", Invariant($"{workers} trainers at once, batch {batch} each"), 0,
        _ => SingleProcessPeer.RunConcurrentlyAsync(perWorker, corpus, warmup, workers)),
    .. Enumerable.Range(1, maxShards).Select(shards => new Peer(
        Invariant($"cluster_k{shards}"), Invariant($"{workers} silos x 1 worker, K={shards}, batch {batch * workers}"), shards,
        round => ClusterPeer.RunAsync(global, workers, shards, warmup, layout, Invariant($"bench-k{shards}-round{round}")))),
];
var measured = peers.ToDictionary(p => p.Name, _ => new List<RunResult>());
for (var round = 0; round < rounds; round++)
{
    for (var i = 0; i < peers.Count; i++)
    {
        var peer = peers[(i + round) % peers.Count];
        var busy = await MachineCpu.WaitForQuietAsync(quietWait, QuietBelow);
        Console.Error.WriteLine(Invariant($"== round {round + 1}/{rounds}: {peer.Title} (machine {busy:P0} busy before, loadavg {LoadAverage()})"));
        var cpu = MachineCpu.Now();
        var result = await peer.RunAsync(round);
        result = result with { OthersCores = cpu.OthersCoresSince() };
        measured[peer.Name].Add(result);
        Console.Error.WriteLine(Invariant($"   {result.SecondsPerStep * 1e3:F1} ms/step, others kept {result.OthersCores:F2} cores busy") +
                                (result.Cluster is { } c ? Invariant($", {c.BytesPerStep / 1e6:F2} MB/step, {c.Placement}, {c.ThreadPoolThreads} pool threads") : ""));
    }
}

var summary = peers.Select(p => Summary.Of(p, measured[p.Name])).ToList();
var single = summary[0];
var reference = summary[1];
var concurrent = summary[2];
var clusters = summary.Where(s => s.Peer.Shards > 0).ToList();

Console.WriteLine(Invariant($"distributed training step: {Path.GetFileName(args[^1])}, P = {parameters:N0} parameters, per-worker batch {batch} x block {perWorker.Data.BlockSize}"));
Console.WriteLine(Invariant($"{threads} libtorch thread(s) for the trainer and for each worker; the cluster: {workers} ClusterSilos in this process on loopback TCP, one worker each"));
Console.WriteLine(Invariant($"{warmup} warm-up + {timedSteps} timed steps per run; {rounds} rounds, order rotated each round; medians over the quiet rounds,"));
Console.WriteLine(Invariant($"those in which the rest of the machine kept < {Summary.QuietBelowCores} cores busy (over all rounds where none was)"));
Console.WriteLine();
Console.WriteLine(Invariant($"{"run",-38} {"ms/step",8} {"vs single",10} {"loss, last 10",14} {"val loss",9} {"rounds",7} {"others' cores",14}"));
foreach (var s in summary)
    Console.WriteLine(Invariant($"{s.Peer.Title,-38} {s.SecondsPerStep * 1e3,8:F1} {s.SecondsPerStep / single.SecondsPerStep,10:F3} {s.FinalLoss,14:F4} {s.ValidationLoss,9:F4} {$"{s.Rounds}/{rounds}",7} {s.OthersCores,14:F2}"));
Console.WriteLine(Invariant($"(goal: a cluster step at most 1.15 x the single-process step at batch {batch}; loss: the mean training loss of the last 10 timed steps;"));
Console.WriteLine(" rounds: the rounds the medians are over; others' cores: the most cores the rest of the machine kept busy during one of them)");
Console.WriteLine();
Console.WriteLine(Invariant($"{"per cluster step",-44} {string.Join(" ", clusters.Select(c => $"{"K=" + c.Peer.Shards,10}"))}"));
Row(Invariant($"step / single process at batch {batch}"), c => c.SecondsPerStep / single.SecondsPerStep, "F3");
Row(Invariant($"step / {workers} trainers at once"), c => c.SecondsPerStep / concurrent.SecondsPerStep, "F3");
Row(Invariant($"speed-up over one process at batch {batch * workers}"), c => reference.SecondsPerStep / c.SecondsPerStep, "F3");
Row("bytes sent, all silos (MB)", c => c.Cluster!.BytesPerStep / 1e6, "F2");
Row(Invariant($"  / 2*P*4*N = {naiveBytes / 1e6:F2} MB"), c => c.Cluster!.BytesPerStep / naiveBytes, "F3");
Row("  / parameter bytes that cross silos", c => c.Cluster!.BytesPerStep / c.Cluster!.ParameterBytesPerStep, "F3");
Row("per worker (mean over workers), ms: pull", c => PerWorker(c, t => t.Pull), "F2");
Row("  data", c => PerWorker(c, t => t.Data), "F2");
Row("  forward", c => PerWorker(c, t => t.Forward), "F2");
Row("  backward", c => PerWorker(c, t => t.Backward), "F2");
Row("  push", c => PerWorker(c, t => t.Push), "F2");
Row("  sum of the phases", c => PerWorker(c, WorkerPhases), "F2");
Row("PS aggregation, summed over shards, ms", c => c.Cluster!.Phases.Aggregate * 1e3, "F2");
Row("rest: step - worker phases (mean), ms", c => c.SecondsPerStep * 1e3 - PerWorker(c, WorkerPhases), "F2");
foreach (var c in clusters)
{
    var deviation = c.Losses.Zip(reference.Losses, (a, b) => Math.Abs(a - b) / Math.Abs(b)).Max();
    Console.WriteLine(Invariant($"K={c.Peer.Shards}: placement {c.Placement}; losses vs single process at batch {batch * workers}: max relative difference {deviation:E1} over {c.Losses.Count} steps"));
}
Console.WriteLine();
Console.WriteLine(Invariant($"direct timings (this thread, no grains, one shard of all P), ms: shard values out {local.Values * 1e3:F2}, replica load {local.Load * 1e3:F2}, ") +
                  Invariant($"forward {local.Forward * 1e3:F2}, backward {local.Backward * 1e3:F2}, gradient in total {local.Gradient * 1e3:F2}, ") +
                  Invariant($"accumulate {local.Accumulate * 1e3:F2} per worker, norm {local.Norm * 1e3:F2}, apply {local.Apply * 1e3:F2}; ") +
                  Invariant($"the trainer's own update (clip + optimizer step) {local.TrainerUpdate * 1e3:F2}; others kept {localOthers:F2} cores busy"));

if (options.JsonPath is { } jsonPath)
{
    var results = new List<BenchResult>();
    foreach (var s in summary)
    {
        results.Add(new($"{s.Peer.Name}_ms_per_step", "ms", s.SecondsPerStep * 1e3, s.Peer.Title));
        results.Add(new($"{s.Peer.Name}_vs_single", "x", s.SecondsPerStep / single.SecondsPerStep, $"ms per step / the single process's at batch {batch}"));
        results.Add(new($"{s.Peer.Name}_final_loss", "nats", s.FinalLoss, "mean training loss of the last 10 timed steps"));
        results.Add(new($"{s.Peer.Name}_rounds", "rounds", s.Rounds, $"quiet rounds the medians are over, of {rounds}"));
    }
    foreach (var c in clusters)
    {
        results.Add(new($"{c.Peer.Name}_bytes_per_step", "B", c.Cluster!.BytesPerStep, "bytes all silos' transports sent per step"));
        results.Add(new($"{c.Peer.Name}_bytes_vs_2p4n", "x", c.Cluster.BytesPerStep / naiveBytes, "bytes per step / 2*P*4*N"));
        results.Add(new($"{c.Peer.Name}_aggregate_ms", "ms", c.Cluster.Phases.Aggregate * 1e3, "PS aggregation per step, summed over shards"));
    }
    await File.WriteAllTextAsync(jsonPath, JsonSerializer.Serialize(new
    {
        benchmark = "training_step",
        config = new { warmup, timed_steps = timedSteps, rounds, workers, max_shards = maxShards, threads, batch, parameters, run = ConfigFile.ToJson(perWorker) },
        results = results.Select(r => r.ToJson()),
        rounds = peers.ToDictionary(p => p.Name, p => measured[p.Name].Select(r => new
        {
            seconds_per_step = r.SecondsPerStep, r.ValidationLoss, others_cores = r.OthersCores, losses = r.Losses, r.Cluster,
        })),
        local,
        local_others_cores = localOthers,
    }, new JsonSerializerOptions
    {
        WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    }));
}
return 0;

void Row(string title, Func<Summary, double> value, string format) =>
    Console.WriteLine(Invariant($"{title,-44} {string.Join(" ", clusters.Select(c => value(c).ToString(format, CultureInfo.InvariantCulture).PadLeft(10)))}"));

// Milliseconds per step that a phase took one worker, on average over the workers (Timings sums them over workers).
double PerWorker(Summary cluster, Func<StepTimings, double> phase) => phase(cluster.Cluster!.Phases) / workers * 1e3;

static double WorkerPhases(StepTimings t) => t.Pull + t.Data + t.Forward + t.Backward + t.Push;

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

/// <summary>One configuration to measure (Shards: 0 for the single-process trainer); <see cref="RunAsync"/> takes the round's index.</summary>
internal sealed record Peer(string Name, string Title, int Shards, Func<int, Task<RunResult>> RunAsync);
