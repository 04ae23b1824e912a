using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using OrleansLm.Bench;
using OrleansLm.Client;
using OrleansLm.GatewayBench;
using OrleansLm.Model.Decoding;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Protos.Health.V1;
using OrleansLm.Protos.V1;
using OrleansLm.Silo.Gateway;
using OrleansLm.Silo.Serving;
using static OrleansLm.GatewayBench.Workload;

// Usage: OrleansLm.GatewayBench [--rounds 3] [--clients 32] [--warmup-ms 500] [--measure-ms 2500] [--threads 1]
//                               [--decode-reps 6] [--quiet-wait-s 5] [--json PATH] CONFIG SILO_DLL
// Sampling through the silo's gRPC gateway: trains CONFIG's character-level Transformer briefly in this process, writes
// it as a model file, starts the silo application twice on it (the gateway's default batching, and Gateway:MaxBatchRows=1)
// and calls it over HTTP/2 with closed loops of clients. Next to it, in this process on the same model file: greedy
// decoding with the KV cache against recomputing the whole context every step, and the same Generate through
// ServedModel (what the gateway calls) without the gateway. Prints Markdown tables of the medians over the rounds.

const string Usage =
    "usage: OrleansLm.GatewayBench [--rounds R=3] [--clients C=32 (the concurrent clients)] [--warmup-ms W=500] [--measure-ms M=2500]\n" +
    "                              [--threads T=1 (libtorch threads, here and in each silo)] [--decode-reps D=6 (KV cache comparison)]\n" +
    "                              [--quiet-wait-s Q=5 (before each round, wait up to Q s for a second the CPUs are < 15% busy)]\n" +
    "                              [--json PATH] CONFIG (a character-level run.yaml, block ≥ 320) SILO_DLL (silo/bin/Release/net10.0/OrleansLm.Silo.dll)";
const double QuietBelow = 0.15;

if (args.Length < 2 || args[^2].StartsWith("--", StringComparison.Ordinal) || args[^1].StartsWith("--", StringComparison.Ordinal))
{
    Console.Error.WriteLine(Usage);
    return 2;
}
var options = BenchArguments.Parse(args[..^2], new Dictionary<string, int>
{
    ["--rounds"] = 3, ["--clients"] = 32, ["--warmup-ms"] = 500, ["--measure-ms"] = 2500, ["--threads"] = 1, ["--decode-reps"] = 6, ["--quiet-wait-s"] = 5,
}, "--quiet-wait-s");
if (options is null)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
var (configPath, siloDll) = (args[^2], args[^1]);
var (rounds, clients, threads) = (options["--rounds"], options["--clients"], options["--threads"]);
var (warmup, window) = (TimeSpan.FromMilliseconds(options["--warmup-ms"]), TimeSpan.FromMilliseconds(options["--measure-ms"]));
var quietWait = TimeSpan.FromSeconds(options["--quiet-wait-s"]);

var recipe = ConfigFile.Load<RunConfig>(configPath);
recipe.Validate();
if (recipe.Data.Tokenizer != TokenizerKind.Char || recipe.Data.BlockSize < ContextChars + StreamedTokens)
{
    Console.Error.WriteLine($"{configPath}: data.tokenizer must be char (prompts are counted in characters) and data.block_size at least " +
                            $"{ContextChars + StreamedTokens} (a {ContextChars}-token prompt and {StreamedTokens} new tokens in one window), not " +
                            $"{recipe.Data.Tokenizer} and {recipe.Data.BlockSize}");
    return 2;
}

// Before any tensor exists; each silo gets the same count (Silo:TorchThreads), so both sides decode on as many threads.
LibTorch.NumThreads = threads;
var modelDirectory = Directory.CreateTempSubdirectory("olm-gwbench-");
try
{
    return await RunAsync();
}
finally
{
    modelDirectory.Delete(recursive: true);
}

async Task<int> RunAsync()
{
    var modelPath = Path.Combine(modelDirectory.FullName, ModelName + ServedModels.ExportExtension);
    var config = recipe with { Training = recipe.TrainingOrDefault with { EvalEvery = 0, Checkpoint = modelPath, CheckpointEvery = 0 } };
    var training = config.TrainingOrDefault;
    await MachineCpu.WaitForQuietAsync(quietWait, QuietBelow);
    Console.Error.WriteLine(Invariant($"== training {Path.GetFileName(configPath)}: up to {training.Steps} steps or {training.MaxSeconds} s"));
    var lastStep = new LastStep();
    var trained = TrainingRun.Execute(config, lastStep);
    var trainedStep = lastStep.Last ?? throw new InvalidOperationException("the trainer reported no step");
    Console.Error.WriteLine(Invariant($"   {trainedStep.Step} steps in {trainedStep.Elapsed.TotalSeconds:F1} s, training loss {trainedStep.Loss:F3}, validation loss {trained.ValidationLoss:F3}"));

    var text = File.ReadAllText(config.Data.Path);
    var validation = text[(int)(text.Length * config.Data.TrainFraction)..];
    // Every client and call gets a prompt of its own: the same length (so the batcher may batch them) from another place.
    string Excerpt(int length, int client, int index) =>
        validation.Substring((int)((client * 1_000_003L + index * 7_919L) % (validation.Length - length)), length);

    var (model, tokenizer, _) = TrainingRun.LoadForInference(modelPath);
    // The gateway's own defaults, so that the in-process peer batches as the gateway does.
    var gatewayDefaults = new GatewayOptions();
    var batcher = new GenerationBatcher(model, new GenerationBatcherOptions
    {
        MaxBatchRows = gatewayDefaults.MaxBatchRows, MaxWait = TimeSpan.FromMilliseconds(gatewayDefaults.BatchWaitMilliseconds),
    });
    try
    {
        var served = new ServedModel(ModelName, model, tokenizer, null, batcher);
        var decodeBusy = await MachineCpu.WaitForQuietAsync(quietWait, QuietBelow);
        Console.Error.WriteLine(Invariant($"== greedy decoding in this process, {StreamedTokens} tokens after {ContextChars}: KV cache vs none (machine {decodeBusy:P0} busy before)"));
        var decodeCpu = MachineCpu.Now();
        var decoding = CacheComparison.Measure(model, served.Encode(Excerpt(ContextChars, 0, 0), "prompt"), StreamedTokens, options["--decode-reps"]);
        var decodeOthers = decodeCpu.OthersCoresSince();

        Console.Error.WriteLine("== starting the silo twice: default batching, and Gateway:MaxBatchRows=1");
        await using var batched = await GatewayProcess.StartAsync(siloDll, modelDirectory.FullName, threads, new Dictionary<string, string>());
        await using var unbatched = await GatewayProcess.StartAsync(siloDll, modelDirectory.FullName, threads,
            new Dictionary<string, string> { ["OLM_Gateway__MaxBatchRows"] = "1" });
        using var toBatched = new GatewayConnection(new GatewayConnectionOptions { Address = batched.Address });
        using var toUnbatched = new GatewayConnection(new GatewayConnectionOptions { Address = unbatched.Address });
        var (batchedSampling, unbatchedSampling, health) = (new SamplingClient(toBatched), new SamplingClient(toUnbatched), new HealthClient(toBatched));
        IReadOnlyList<Process> silos = [batched.Process, unbatched.Process];


        Func<int, int, Task<int>> GatewayGenerate(SamplingClient sampling, int newTokens, double temperature) => async (client, index) =>
        {
            var response = await sampling.GenerateAsync(new GenerateRequest
            {
                Model = ModelName, Prompt = Excerpt(PromptChars, client, index), MaxNewTokens = newTokens, Temperature = temperature, Seed = index,
            });
            return Generated(response.Completions.Single().Tokens.Count, newTokens);
        };
        Func<int, int, Task<int>> InProcessGenerate(int newTokens) => async (client, index) =>
        {
            var prompt = served.Encode(Excerpt(PromptChars, client, index), "prompt");
            var generations = await served.GenerateAsync(prompt, new SamplingOptions { MaxNewTokens = newTokens, Temperature = 0, Seed = index });
            return Generated(generations.Single().Tokens.Count, newTokens);
        };
        var firstTokenMs = new ConcurrentQueue<double>();
        List<Scenario> scenarios =
        [
            new("generate_1", Invariant($"Generate {GeneratedTokens} tokens, sampled (T = {SampledTemperature}), {PromptChars}-char prompt"), 1,
                GatewayGenerate(batchedSampling, GeneratedTokens, SampledTemperature)),
            new("generate_n", Invariant($"Generate {GeneratedTokens} tokens, sampled (T = {SampledTemperature}), {PromptChars}-char prompt"), clients,
                GatewayGenerate(batchedSampling, GeneratedTokens, SampledTemperature)),
            new("generate_n_unbatched", "the same, Gateway:MaxBatchRows = 1 (no batching)", clients,
                GatewayGenerate(unbatchedSampling, GeneratedTokens, SampledTemperature)),
            new("score_1", Invariant($"Score a {ScoredChars}-char text"), 1, Score),
            new("score_n", Invariant($"Score a {ScoredChars}-char text"), clients, Score),
            new("stream", Invariant($"GenerateStream {StreamedTokens} tokens, greedy, {ContextChars}-char prompt"), 1, Stream),
            new("stream_in_process", "the same, ServedModel in process (tokens through its callback)", 1, StreamInProcess),
            new("generate_1_token", "Generate 1 token, greedy, through the gateway", 1, GatewayGenerate(batchedSampling, 1, 0)),
            new("generate_1_token_in_process", "Generate 1 token, greedy, ServedModel in process", 1, InProcessGenerate(1)),
            // One row fills a batch at once, so this silo's batcher never waits for others to join.
            new("generate_1_token_unbatched", "Generate 1 token, greedy, through the gateway, MaxBatchRows = 1 (no batch wait)", 1, GatewayGenerate(unbatchedSampling, 1, 0)),
            new("generate_more_tokens", Invariant($"Generate {OverheadTokens} tokens, greedy, through the gateway"), 1, GatewayGenerate(batchedSampling, OverheadTokens, 0)),
            new("generate_more_tokens_in_process", Invariant($"Generate {OverheadTokens} tokens, greedy, ServedModel in process"), 1, InProcessGenerate(OverheadTokens)),
            new("health_check", "grpc.health.v1.Health/Check", 1, Check),
            new("list_models", "ListModels", 1, List),
        ];

        Console.Error.WriteLine(Invariant($"== warming up: each load for {2 * warmup.TotalSeconds} s (loads the model in the silos, compiles the paths)"));
        foreach (var scenario in scenarios) await ClientLoad.WarmUpAsync(scenario.Clients, 2 * warmup, scenario.Call);
        firstTokenMs.Clear();
        var measured = scenarios.ToDictionary(s => s.Name, _ => new List<LoadResult>());
        for (var round = 0; round < rounds; round++)
        {
            var busy = await MachineCpu.WaitForQuietAsync(quietWait, QuietBelow);
            Console.Error.WriteLine(Invariant($"== round {round + 1}/{rounds} (machine {busy:P0} busy before, loadavg {LoadAverage()})"));
            for (var i = 0; i < scenarios.Count; i++)
            {
                var scenario = scenarios[(i + round) % scenarios.Count];
                var result = await ClientLoad.RunAsync(scenario.Clients, warmup, window, scenario.Call, silos);
                measured[scenario.Name].Add(result);
                Console.Error.WriteLine(Invariant($"   {scenario.Name,-30} {scenario.Clients,3} client(s): p50 {result.P50,8:F2} ms, p99 {result.P99,8:F2} ms, ") +
                                        Invariant($"{result.CallsPerSecond,8:F1} calls/s, {result.UnitsPerSecond,8:F0} tokens/s, others kept {result.OthersCores:F2} cores busy"));
            }
        }

        var report = new Report(measured, decoding, firstTokenMs.ToArray(), trainedStep, trained.ValidationLoss, model.ParameterCount, decodeOthers, clients);
        report.Print(scenarios, config, threads, rounds, window);
        if (options.JsonPath is { } jsonPath) await report.WriteJsonAsync(jsonPath, scenarios, config, threads, rounds, window);
        return 0;

        async Task<int> Score(int client, int index)
        {
            var response = await batchedSampling.ScoreAsync(new ScoreRequest { Model = ModelName, Text = Excerpt(ScoredChars, client, index) });
            return response.Tokens.Count;
        }

        async Task<int> Stream(int client, int index)
        {
            var start = Stopwatch.GetTimestamp();
            var tokens = 0;
            var request = new GenerateRequest { Model = ModelName, Prompt = Excerpt(ContextChars, client, index), MaxNewTokens = StreamedTokens, Temperature = 0 };
            await foreach (var chunk in batchedSampling.GenerateStreamAsync(request))
                if (chunk.Token is not null && tokens++ == 0) firstTokenMs.Enqueue(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            return Generated(tokens, StreamedTokens);
        }

        async Task<int> StreamInProcess(int client, int index)
        {
            var tokens = 0;
            var prompt = served.Encode(Excerpt(ContextChars, client, index), "prompt");
            await served.GenerateAsync(prompt, new SamplingOptions { MaxNewTokens = StreamedTokens, Temperature = 0 }, _ => tokens++);
            return Generated(tokens, StreamedTokens);
        }

        async Task<int> Check(int client, int index)
        {
            var response = await health.CheckAsync(new HealthCheckRequest());
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving ? 0
                : throw new InvalidOperationException($"the silo's health is {response.Status}, not SERVING");
        }

        async Task<int> List(int client, int index)
        {
            var response = await batchedSampling.ListModelsAsync(new ListModelsRequest());
            return response.Models.Any(m => m.Model == ModelName) ? 0 : throw new InvalidOperationException($"ListModels does not list {ModelName}");
        }
    }
    finally
    {
        await batcher.DisposeAsync();
        model.Dispose();
    }
}

// No request names a stop sequence, so each must end at its length: anything else is a fault, not a measurement.
static int Generated(int tokens, int asked) =>
    tokens == asked ? tokens : throw new InvalidOperationException($"a generation returned {tokens} tokens, not the {asked} asked for");

static string LoadAverage() => File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "?";

static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

/// <summary>One load: <see cref="Clients"/> closed loops of <see cref="Call"/> (client, index) → tokens completed.</summary>
internal sealed record Scenario(string Name, string Title, int Clients, Func<int, int, Task<int>> Call);

/// <summary>The trainer's last reported step.</summary>
internal sealed class LastStep : IProgress<TrainingEvent>
{
    public TrainingEvent? Last { get; private set; }

    public void Report(TrainingEvent value)
    {
        if (value.Kind == TrainingEventKind.Step) Last = value;
    }
}
