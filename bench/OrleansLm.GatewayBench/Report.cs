using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using OrleansLm.Bench;
using OrleansLm.Model.Training;
using OrleansLm.Silo.Gateway;
using static OrleansLm.GatewayBench.Workload;

namespace OrleansLm.GatewayBench;

/// <summary>
/// The benchmark's results as Markdown tables and JSON: each load's medians over the rounds, and the comparisons, each a
/// median of per-round (or per-repetition) ratios, since the two sides of one ran next to each other.
/// </summary>
internal sealed class Report(
    IReadOnlyDictionary<string, List<LoadResult>> loads, CacheComparison.Result decoding, IReadOnlyList<double> firstTokenMs,
    TrainingEvent trained, double validationLoss, long parameters, double decodeOthersCores, int clients)
{

    public void Print(IReadOnlyList<Scenario> scenarios, RunConfig config, int threads, int rounds, TimeSpan window)
    {
        var data = config.Data;
        var model = (TransformerSection)config.ModelOrDefault;
        Console.WriteLine(Invariant($"gateway benchmark: character-level Transformer, {model.Layers} layers, {model.Heads} heads, {model.Dim}-d, block {data.BlockSize}, ") +
                          Invariant($"{parameters:N0} parameters, trained {trained.Step} steps of {data.BatchSize} x {data.BlockSize} tokens ") +
                          Invariant($"({trained.Elapsed.TotalSeconds:F0} s, validation loss {validationLoss:F3})"));
        Console.WriteLine(Invariant($"{threads} libtorch thread(s) in each silo and in this process; {rounds} rounds of {window.TotalSeconds} s per load (after a warm-up), ") +
                          "order rotated each round; values are medians over the rounds");
        Console.WriteLine();
        Console.WriteLine("| request | clients | p50 ms | p99 ms | requests/s | tokens/s | others' cores, most |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var scenario in scenarios)
        {
            var runs = loads[scenario.Name];
            var tokens = Median(runs, r => r.UnitsPerSecond);
            Console.WriteLine(Invariant($"| {scenario.Title} | {scenario.Clients} | {Median(runs, r => r.P50):F2} | {Median(runs, r => r.P99):F2} | ") +
                              Invariant($"{Median(runs, r => r.CallsPerSecond):F1} | {(tokens > 0 ? tokens.ToString("F0", CultureInfo.InvariantCulture) : "–")} | ") +
                              Invariant($"{runs.Max(r => r.OthersCores):F2} |"));
        }
        Console.WriteLine();
        Console.WriteLine("| comparison | value |");
        Console.WriteLine("|---|---:|");
        foreach (var (title, value) in Comparisons()) Console.WriteLine($"| {title} | {value} |");
        Console.WriteLine();
        Console.WriteLine(Invariant($"(tokens/s: tokens generated, or scored, per second of wall time, the prompt's processing included; others' cores: the most cores the rest ") +
                          Invariant($"of the machine kept busy during one round's load, beside this process and the two silos; KV cache comparison: the rest kept {decodeOthersCores:F2} cores busy)"));
    }

    public async Task WriteJsonAsync(string path, IReadOnlyList<Scenario> scenarios, RunConfig config, int threads, int rounds, TimeSpan window)
    {
        var results = new List<BenchResult>();
        foreach (var scenario in scenarios)
        {
            var runs = loads[scenario.Name];
            results.Add(new($"{scenario.Name}_p50_ms", "ms", Median(runs, r => r.P50), $"{scenario.Title}, {scenario.Clients} client(s): median latency"));
            results.Add(new($"{scenario.Name}_p99_ms", "ms", Median(runs, r => r.P99), $"{scenario.Title}, {scenario.Clients} client(s): 99th percentile latency"));
            results.Add(new($"{scenario.Name}_per_s", "calls/s", Median(runs, r => r.CallsPerSecond), $"{scenario.Title}, {scenario.Clients} client(s): calls per second"));
            results.Add(new($"{scenario.Name}_tokens_per_s", "tokens/s", Median(runs, r => r.UnitsPerSecond), $"{scenario.Title}, {scenario.Clients} client(s): tokens per second"));
        }
        results.Add(new("kv_cache_tokens_per_s", "tokens/s", CacheComparison.TokensPerSecond(decoding.Cached, StreamedTokens), "greedy decoding with the KV cache, in process"));
        results.Add(new("no_cache_tokens_per_s", "tokens/s", CacheComparison.TokensPerSecond(decoding.Uncached, StreamedTokens), "greedy decoding recomputing the context, in process"));
        results.Add(new("kv_cache_speedup", "x", CacheSpeedup, "median over repetitions of no-cache seconds / KV-cache seconds"));
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(new
        {
            benchmark = "gateway",
            config = new { clients, threads, rounds, window_seconds = window.TotalSeconds, parameters, trained_steps = trained.Step, validation_loss = validationLoss, run = ConfigFile.ToJson(config) },
            results = results.Select(r => r.ToJson()),
            comparisons = Comparisons().Select(c => new { c.Title, c.Value }),
            rounds = loads.ToDictionary(l => l.Key, l => l.Value.Select(r => new
            {
                p50_ms = r.P50, p99_ms = r.P99, calls = r.LatenciesMs.Count, calls_per_second = r.CallsPerSecond, tokens_per_second = r.UnitsPerSecond, others_cores = r.OthersCores,
            })),
            decoding = new { cached_seconds = decoding.Cached, uncached_seconds = decoding.Uncached, max_log_prob_difference = decoding.MaxLogProbDifference, others_cores = decodeOthersCores },
            stream_first_token_ms = firstTokenMs,
        }, new JsonSerializerOptions
        {
            WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        }));
    }

    private double CacheSpeedup => Samples.Median([.. decoding.Uncached.Zip(decoding.Cached, (plain, cached) => plain / cached)]);

    private IEnumerable<(string Title, string Value)> Comparisons()
    {
        var defaults = new GatewayOptions();
        var cached = CacheComparison.TokensPerSecond(decoding.Cached, StreamedTokens);
        yield return (Invariant($"batching: requests/s at {clients} clients, Gateway:MaxBatchRows {defaults.MaxBatchRows} / 1"),
            Invariant($"{PerRound("generate_n", "generate_n_unbatched", r => r.CallsPerSecond):F2}x"));
        yield return (Invariant($"batching: p50 latency at {clients} clients, MaxBatchRows 1 / {defaults.MaxBatchRows}"),
            Invariant($"{PerRound("generate_n_unbatched", "generate_n", r => r.P50):F2}x"));
        yield return (Invariant($"the batcher's wait (Gateway:BatchWaitMilliseconds {defaults.BatchWaitMilliseconds}) alone: Generate 1 token at 1 client, p50 MaxBatchRows {defaults.MaxBatchRows} − 1"),
            Invariant($"{PerRoundDifference("generate_1_token", "generate_1_token_unbatched", r => r.P50):F2} ms"));
        yield return (Invariant($"greedy {StreamedTokens} tokens after {ContextChars} in process: KV cache / recomputing the context, tokens/s (goal ≥ 5x)"),
            Invariant($"{cached:F0} / {CacheComparison.TokensPerSecond(decoding.Uncached, StreamedTokens):F0} = **{CacheSpeedup:F1}x**"));
        yield return ("the same greedy tokens with and without the cache; largest difference of a chosen token's ln p",
            Invariant($"yes; {decoding.MaxLogProbDifference:E1}"));
        yield return ("GenerateStream through the gateway / ServedModel in process, tokens/s",
            Invariant($"{Median(loads["stream"], r => r.UnitsPerSecond):F0} / {Median(loads["stream_in_process"], r => r.UnitsPerSecond):F0}; ") +
            Invariant($"{PerRound("stream", "stream_in_process", r => r.UnitsPerSecond):F2}x"));
        yield return ("GenerateStream: time to its first token, p50 over all its calls after the warm-up", Invariant($"{Samples.Median(firstTokenMs):F2} ms"));
        foreach (var (gateway, inProcess, what) in new[] { ("generate_1_token", "generate_1_token_in_process", "1 token"), ("generate_more_tokens", "generate_more_tokens_in_process", Invariant($"{OverheadTokens} tokens")) })
        {
            yield return (Invariant($"gateway overhead, Generate {what}, greedy: p50 through the gateway − in process; ratio"),
                Invariant($"{PerRoundDifference(gateway, inProcess, r => r.P50):F2} ms; {PerRound(gateway, inProcess, r => r.P50):F2}x"));
        }
    }

    /// <summary>The median over rounds of <paramref name="a"/>'s value over <paramref name="b"/>'s in the same round.</summary>
    private double PerRound(string a, string b, Func<LoadResult, double> value) =>
        Samples.Median([.. loads[a].Zip(loads[b], (x, y) => value(x) / value(y))]);

    /// <summary>The median over rounds of <paramref name="a"/>'s value minus <paramref name="b"/>'s in the same round.</summary>
    private double PerRoundDifference(string a, string b, Func<LoadResult, double> value) =>
        Samples.Median([.. loads[a].Zip(loads[b], (x, y) => value(x) - value(y))]);

    private static double Median(IReadOnlyList<LoadResult> runs, Func<LoadResult, double> value) => Samples.Median([.. runs.Select(value)]);

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
