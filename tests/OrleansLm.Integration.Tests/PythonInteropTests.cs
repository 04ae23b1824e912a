using System.Text.Json.Nodes;
using OrleansLm.Silo.Serving;
using OrleansLm.Testing;
using Xunit.Abstractions;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// The gateway against an independent gRPC implementation: interop/gateway_client.py calls every RPC with grpcio
/// (see <see cref="PythonGatewayClient"/>) and reports what it saw; these tests judge it. The script runs once, when
/// the fixture starts, training the runs that its sampling checks use.
/// </summary>
public sealed class PythonInteropTests(PythonInteropTests.Session session) : IClassFixture<PythonInteropTests.Session>
{
    public const int TinySteps = 120;
    public const int TinyEvalEvery = 40;
    public const string Prompt = "to be";

    /// <summary>Prompt and generation together fit <see cref="GatewaySilo.RunYaml"/>'s block: Score sees Generate's contexts.</summary>
    public const int GeneratedTokens = 24;

    /// <summary>The gateway silo, after the script ran against it.</summary>
    public sealed class Session(IMessageSink diagnostics) : GatewaySilo(diagnostics)
    {
        private IReadOnlyDictionary<string, JsonObject>? checks;

        public JsonObject this[string check] => (checks ?? throw new InvalidOperationException("the script has not run"))
            .TryGetValue(check, out var found) ? found : throw new KeyNotFoundException($"gateway_client.py reported no check '{check}'");

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            var tinyRun = Path.Combine(Root, "tiny.yaml");
            var longRun = Path.Combine(Root, "long.yaml");
            await File.WriteAllTextAsync(tinyRun, RunYaml(TinySteps, TinyEvalEvery));
            await File.WriteAllTextAsync(longRun, RunYaml(steps: 1_000_000, evalEvery: 0));
            checks = await PythonGatewayClient.RunAsync(this, "full", "--tiny-run", tinyRun, "--long-run", longRun,
                "--max-new-tokens", Invariant(MaxNewTokens), "--prompt", Prompt, "--tokens", Invariant(GeneratedTokens));
        }
    }

    [Theory]
    [InlineData("health")]
    [InlineData("health_at_end")]
    public void HealthChecksAndWatchReportServing(string name)
    {
        var check = session[$"{name}_check"];
        check.Text("server").Should().Be("SERVING");
        check.Text("sampling").Should().Be("SERVING");
        check.Error("unknown").Should().Be(("NOT_FOUND", "service: 'olm.v1.Nope' is not served here"));
        var watch = session[$"{name}_watch"];
        watch.Text("first").Should().Be("SERVING");
        watch.Error("after_cancel").Code.Should().Be("CANCELLED");
    }

    [Fact]
    public void ReflectionV1DescribesOurServicesAsTheirProtoFilesDo()
    {
        var check = session["reflection_v1"];
        check.Number("responses").Should().Be(3, "one response per request on the stream");
        check.Text("valid_host").Should().Be("interop");
        check.Texts("services").Should().Equal(ServiceNames);
        var files = check["files"]!.AsArray();
        files.Select(f => f!.Text("name")).Should().Equal("olm/v1/sampling.proto", "olm/v1/training.proto");
        files[0]!.Texts("dependencies").Should().Equal("olm/v1/training.proto");
        files[0]!.Texts("messages").Should().Equal(check.Texts("expected_sampling_messages"));
        files[1]!.Texts("messages").Should().Equal(check.Texts("expected_training_messages"));
        var methods = files[0]!["services"]!["SamplingService"]!;
        JsonNode.DeepEquals(methods, check["expected_sampling"]).Should().BeTrue($"reflection said {methods}, protoc {check["expected_sampling"]}");
        methods.AsArray().Select(m => m!.Text("name")).Should().Equal("Generate", "GenerateStream", "Score", "ListModels");
        check["unknown_symbol"]!.Number("code").Should().Be(5, "NOT_FOUND");
        check["unknown_symbol"]!.Text("message").Should().Contain("olm.v1.NoSuchSymbol");
    }

    [Fact]
    public void ReflectionV1AlphaPathAnswersTheSame()
    {
        var check = session["reflection_v1alpha"];
        check.Texts("services").Should().Equal(ServiceNames);
        var file = check["files"]!.AsArray().Single()!;
        file.Text("name").Should().Be("olm/v1/training.proto");
        file.Text("package").Should().Be("olm.v1");
        JsonNode.DeepEquals(file["services"]!["TrainingService"], check["expected_training"]).Should().BeTrue(file.ToJsonString());
    }

    [Fact]
    public void StartedRunTrainsToCompletionWhileWatched()
    {
        var started = session["start_run"];
        var run = started["run"]!;
        run.Text("run_id").Should().Be("tiny");
        run.Text("state").Should().Be("RUN_STATE_RUNNING");
        run.Number("total_steps").Should().Be(TinySteps);
        run.Text("model_family").Should().Be("transformer");
        run["validation_loss"].Should().BeNull("NaN before the first evaluation");
        started.Error("again").Code.Should().Be("ALREADY_EXISTS");

        var watch = session["watch_run"];
        var steps = watch["steps"]!.AsArray();
        steps.Select(s => s!.Number("step")).Should().Equal(Enumerable.Range(1, TinySteps).Select(s => (long)s), "from_step 0 replays every step, in order, once");
        steps.Should().OnlyContain(s => s!.Number("total_steps") == TinySteps);
        var losses = steps.Select(s => s!.Real("loss")).ToList();
        losses.Should().OnlyContain(l => double.IsFinite(l) && l > 0);
        losses.TakeLast(10).Average().Should().BeLessThan(losses.Take(10).Average() - 0.5, "the tiny run learns its corpus");

        var evaluations = watch["evaluations"]!.AsArray();
        evaluations.Select(e => e!.Number("step")).Should().Equal([40, 80, 120], "the run evaluates every eval_every = 40 steps, and WatchRun sends each evaluation with its step");
        foreach (var evaluation in evaluations)
            evaluation!.Real("validation_perplexity").Should().BeApproximately(Math.Exp(evaluation!.Real("validation_loss")), 1e-9);

        var statuses = watch["statuses"]!.AsArray().Select(s => s!).ToList();
        statuses.Select(s => s.Text("state")).Should().Equal("RUN_STATE_RUNNING", "RUN_STATE_COMPLETED");
        var final = statuses[^1];
        final.Number("step").Should().Be(TinySteps);
        final.Real("loss").Should().Be(losses[^1], "the run's loss is its latest step's");
        final.Real("validation_loss").Should().Be(evaluations[^1]!.Real("validation_loss"));
        final.Number("checkpoint_step").Should().Be(TinySteps);

        var got = session["get_run"]["run"]!;
        got.Text("state").Should().Be("RUN_STATE_COMPLETED");
        got.Number("step").Should().Be(TinySteps);
        got.Real("loss").Should().Be(losses[^1]);
        got.Real("validation_perplexity").Should().BeApproximately(Math.Exp(got.Real("validation_loss")), 1e-9);
        got.Number("tokens").Should().Be(TinySteps * 4 * 32, "each step trains on batch_size 4 rows of block_size 32 targets");
        got.Number("parameters").Should().BePositive();
        got.Real("flops_per_token").Should().BePositive();
        got["evaluations"]!.AsArray().Select(e => (e!.Number("step"), e!.Real("validation_loss")))
            .Should().Equal(evaluations.Select(e => (e!.Number("step"), e!.Real("validation_loss"))), "GetRun keeps every evaluation WatchRun streamed");

        var listed = session["list_runs"]["runs"]!.AsArray().Single()!;
        listed.Text("run_id").Should().Be("tiny");
        listed.Text("state").Should().Be("RUN_STATE_COMPLETED");
        listed.Number("step").Should().Be(TinySteps);
        listed.Number("total_steps").Should().Be(TinySteps, "ListRuns reports what GetRun does");
        listed.Number("checkpoint_step").Should().Be(TinySteps);
    }

    [Fact]
    public void ExportedModelIsWrittenAndListedBesideTheRun()
    {
        var check = session["export_model"];
        check.Text("model").Should().Be("tiny-export");
        check.Number("step").Should().Be(TinySteps);
        var file = new FileInfo(Path.Combine(session.ModelDirectory, "tiny-export" + ServedModels.ExportExtension));
        file.Exists.Should().BeTrue();
        check.Number("size_bytes").Should().Be(file.Length);

        var listed = check["listed"]!.AsArray().Select(m => m!).ToList();
        listed.Select(m => m.Text("model")).Should().Equal("run:tiny", "tiny-export");
        listed[0].Text("source").Should().Be("SOURCE_RUN");
        listed[0].Text("run_state").Should().Be("RUN_STATE_COMPLETED");
        listed[0].Number("step").Should().Be(TinySteps);
        listed[1].Text("source").Should().Be("SOURCE_EXPORT");
        listed[1].Number("size_bytes").Should().Be(file.Length);
        listed[1].Number("modified_unix_seconds").Should().Be(new DateTimeOffset(file.LastWriteTimeUtc).ToUnixTimeSeconds());
    }

    [Fact]
    public void GreedyGenerationIsRepeatableAndSelfConsistent()
    {
        var check = session["generate_greedy"];
        check.Number("prompt_tokens").Should().Be(Prompt.Length, "the tokenizer is character-level");
        check.Text("model").Should().Be("tiny-export");
        check.Number("completions").Should().Be(1);
        var first = check["first"]!;
        first.Text("finish_reason").Should().Be("FINISH_REASON_LENGTH");
        first.Numbers("ids").Should().HaveCount(GeneratedTokens);
        first.Text("text").Should().Be(string.Concat(first.Texts("token_texts")));
        first.Real("logprob").Should().BeApproximately(first.Reals("logprobs").Sum(), 1e-9);
        first.Reals("logprobs").Should().OnlyContain(l => l <= 0);
        JsonNode.DeepEquals(first, check["second"]).Should().BeTrue("greedy decoding is deterministic");
        check["from_run"]!.Text("text").Should().Be(first.Text("text"), "the export holds the run's final parameters");
        session["generate_default_length"].Number("tokens").Should().Be(GatewaySilo.DefaultMaxNewTokens);
    }

    [Fact]
    public void SeededSamplingRepeatsAndSamplesDiffer()
    {
        var texts = session["generate_seeded"].Texts("texts");
        texts[0].Should().HaveLength(GeneratedTokens).And.Be(texts[1], "the same seed gives the same sample");
        texts[2].Should().NotBe(texts[0], "another seed, another sample");

        var samples = session["generate_n"]["completions"]!.AsArray().Select(c => c!).ToList();
        samples.Select(c => c.Number("index")).Should().Equal(0, 1);
        samples.Should().OnlyContain(c => c.Numbers("ids").Count == GeneratedTokens);
        samples[0].Text("text").Should().NotBe(samples[1].Text("text"));
    }

    [Fact]
    public void TopLogprobsListTheMostLikelyTokensWithTheGreedyChoiceFirst()
    {
        var completion = session["generate_top_logprobs"]["completion"]!;
        var greedy = session["generate_greedy"]["first"]!;
        completion.Numbers("ids").Should().Equal(greedy.Numbers("ids"));
        var alternatives = completion["top_logprobs"]!.AsArray();
        alternatives.Should().HaveCount(GeneratedTokens);
        var chosen = completion.Numbers("ids");
        var logProbs = completion.Reals("logprobs");
        for (var i = 0; i < alternatives.Count; i++)
        {
            var top = alternatives[i]!.AsArray().Select(a => (Id: a!.Number("id"), LogProb: a!.Real("logprob"))).ToList();
            top.Should().HaveCount(3);
            top.Select(a => a.LogProb).Should().BeInDescendingOrder();
            top.Select(a => a.Id).Should().OnlyHaveUniqueItems();
            top[0].Id.Should().Be(chosen[i], "greedy decoding takes the most likely token");
            top[0].LogProb.Should().BeApproximately(logProbs[i], 1e-9);
            top.Sum(a => Math.Exp(a.LogProb)).Should().BeLessThanOrEqualTo(1 + 1e-9);
        }
    }

    [Fact]
    public void StopSequenceEndsTheTextBeforeIt()
    {
        var check = session["generate_stop"];
        check.Text("greedy").Should().Be(session["generate_greedy"]["first"]!.Text("text"));
        var completion = check["completion"]!;
        completion.Text("finish_reason").Should().Be("FINISH_REASON_STOP");
        check.Text("expected_text").Should().NotBeEmpty();
        completion.Text("text").Should().Be(check.Text("expected_text")).And.NotContain(check.Text("stop"));
        string.Concat(completion.Texts("token_texts")).Should().Be(completion.Text("text"));
    }

    [Fact]
    public void BeamSearchReturnsDistinctHypothesesBestFirst()
    {
        var hypotheses = session["generate_beam"]["completions"]!.AsArray().Select(c => c!).ToList();
        hypotheses.Select(h => h.Number("index")).Should().Equal(0, 1);
        hypotheses.Select(h => h.Text("text")).Should().OnlyHaveUniqueItems();
        foreach (var hypothesis in hypotheses)
        {
            hypothesis.Numbers("ids").Should().HaveCount(GeneratedTokens);
            hypothesis.Real("logprob").Should().BeApproximately(hypothesis.Reals("logprobs").Sum(), 1e-9);
            hypothesis.Text("finish_reason").Should().Be("FINISH_REASON_LENGTH");
        }
        hypotheses.Select(h => h.Real("logprob")).Should().BeInDescendingOrder("without a length penalty hypotheses rank by log-probability");
    }

    [Fact]
    public void StreamedTokensSpellTheGeneratedText()
    {
        var chunks = session["generate_stream"]["chunks"]!.AsArray().Select(c => c!).ToList();
        var greedy = session["generate_greedy"]["first"]!;
        chunks.Should().OnlyContain(c => c.Number("index") == 0);
        var tokens = chunks.Where(c => c["has_token"]!.GetValue<bool>()).ToList();
        chunks.Last()["has_token"]!.GetValue<bool>().Should().BeFalse("the sample's last chunk carries only its finish reason");
        chunks.Last().Text("finish_reason").Should().Be("FINISH_REASON_LENGTH");
        tokens.Should().HaveCount(chunks.Count - 1);
        tokens.Should().OnlyContain(c => c.Text("finish_reason") == "FINISH_REASON_UNSPECIFIED");
        string.Concat(tokens.Select(c => c.Text("text"))).Should().Be(greedy.Text("text"));
        tokens.Select(c => c.Number("id")).Should().Equal(greedy.Numbers("ids"));
        tokens.Select(c => c.Real("logprob")).Should().Equal(greedy.Reals("logprobs"), (a, b) => Math.Abs(a - b) < 1e-9);
    }

    [Fact]
    public void ScoreAgreesWithItselfAndWithGeneration()
    {
        var check = session["score"];
        var greedy = session["generate_greedy"]["first"]!;
        var text = check.Text("text");
        text.Should().Be(Prompt + greedy.Text("text"));
        check.Texts("texts").Should().Equal(text.Skip(1).Select(c => c.ToString()), "every token after the first, each a character");
        var logProbs = check.Reals("logprobs");
        check.Real("average_surprisal").Should().BeApproximately(-logProbs.Average(), 1e-6);
        check.Real("perplexity").Should().BeApproximately(Math.Exp(check.Real("average_surprisal")), 1e-9);
        check.Real("average_surprisal_bits").Should().BeApproximately(check.Real("average_surprisal") / Math.Log(2), 1e-9);
        // Score's tokens from the prompt's last on are Generate's, in the same contexts.
        logProbs.Skip(Prompt.Length - 1).Should().Equal(greedy.Reals("logprobs"), (a, b) => Math.Abs(a - b) < 1e-4);
    }

    [Fact]
    public void GzipCompressedCallsAnswerAsUncompressedOnes()
    {
        var check = session["gzip"];
        var greedy = session["generate_greedy"]["first"]!.Text("text");
        check.Text("generate").Should().Be(greedy);
        check.Text("stream").Should().Be(greedy);
        check.Real("perplexity").Should().Be(session["score"].Real("perplexity"));
        check.Texts("runs").Should().Equal("tiny");
    }

    [Fact]
    public async Task CancelledStreamStopsOnTheServerAndTheGatewayCarriesOn()
    {
        var check = session["cancellation"];
        check.Number("received").Should().Be(3);
        check.Error("cancelled").Code.Should().Be("CANCELLED");
        check.Text("health").Should().Be("SERVING");
        check.Text("greedy_after").Should().Be(check.Text("greedy_before"), "the model's batcher still decodes after the cancelled generation");
        await Eventually.HoldsAsync(
            () => session.Silo.Lines.Any(l => l.Contains("/olm.v1.SamplingService/GenerateStream cancelled by the client", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10), "the gateway saw the client cancel the stream");
    }

    [Fact]
    public void PausedRunHoldsResumesAndStops()
    {
        var check = session["run_control"];
        check["pause"]!.Text("state").Should().BeOneOf("RUN_STATE_RUNNING", "RUN_STATE_PAUSED");
        var paused = check["paused"]!;
        paused.Text("state").Should().Be("RUN_STATE_PAUSED");
        paused.Number("step").Should().BePositive();
        check["still"]!.Text("state").Should().Be("RUN_STATE_PAUSED");
        check["still"]!.Number("step").Should().Be(paused.Number("step"), "a paused run takes no steps");

        var deadline = check["deadline"]!;
        deadline.Text("code").Should().Be("DEADLINE_EXCEEDED");
        deadline.Real("seconds").Should().BeInRange(0.4, 5);
        deadline.Texts("events").Should().Equal("status");

        var resumed = check["resumed"]!;
        resumed.Text("state").Should().Be("RUN_STATE_RUNNING");
        resumed.Number("step").Should().BeGreaterThan(paused.Number("step"));
        var stopped = check["stopped"]!;
        stopped.Text("state").Should().Be("RUN_STATE_STOPPED");
        stopped.Number("checkpoint_step").Should().Be(stopped.Number("step"), "a stopped run checkpoints its last step");
        check.Error("pause_stopped").Should().Be(("FAILED_PRECONDITION", "run long is Stopped: there is nothing to pause"));
    }

    [Fact]
    public void CallsWithoutTheRightTokenAreRefused()
    {
        var check = session["auth"];
        check.Error("generate_without_token").Code.Should().Be("UNAUTHENTICATED");
        check.Error("list_runs_without_token").Code.Should().Be("UNAUTHENTICATED");
        check.Error("generate_with_wrong_token").Code.Should().Be("UNAUTHENTICATED");
        check.Error("list_runs_with_sampling_token").Code.Should().Be("PERMISSION_DENIED");
        check.Error("generate_with_admin_token").Code.Should().Be("OK", "the admin token may sample too");
        check.Error("health_without_token").Code.Should().Be("OK", "health is open");
    }

    [Fact]
    public void UnknownRunsModelsAndMethodsAreNamed()
    {
        var check = session["not_found"];
        check.Error("get_run").Should().Be(("NOT_FOUND", "run_id: no run no-such-run in cluster storage"));
        check.Error("watch_run").Should().Be(("NOT_FOUND", "run_id: no run no-such-run in cluster storage"));
        check.Error("export_model").Should().Be(("NOT_FOUND", "run_id: no run no-such-run in cluster storage"));
        check.Error("model").Code.Should().Be("NOT_FOUND");
        check.Error("model").Details.Should().StartWith("model: ").And.Contain("no-such-model");
        check.Error("run_model").Should().Be(("NOT_FOUND", "model: no run no-such-run in cluster storage"));
        session["unimplemented"].Error("method").Should().Be(("UNIMPLEMENTED", "unknown method /olm.v1.SamplingService/Nope"));
    }

    [Fact]
    public void InvalidArgumentsAreNamedInDetailsThatSurviveTheirEncoding()
    {
        var check = session["invalid_argument"];
        check.Error("top_k").Should().Be(("INVALID_ARGUMENT", "top_k: must be ≥ 0 (0 keeps all), not -1"), "grpc-message is percent-encoded UTF-8");
        check.Error("config").Code.Should().Be("INVALID_ARGUMENT");
        check.Error("config").Details.Should().StartWith("config: not valid YAML at line 2");
    }

    [Fact]
    public void SiloLoggedNoErrorWhileTheScriptRan()
    {
        // An unexpected exception in a call (INTERNAL) or anything it broke behind the gateway is logged as an error.
        session.Silo.Lines.Should().NotContain(l => l.StartsWith("fail:", StringComparison.Ordinal) || l.StartsWith("crit:", StringComparison.Ordinal));
    }

    private static readonly string[] ServiceNames =
        ["grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection", "olm.v1.SamplingService", "olm.v1.TrainingService"];
}

/// <summary>Reading gateway_client.py's reports.</summary>
internal static class InteropReport
{
    public static string Text(this JsonNode node, string key) => node[key]!.GetValue<string>();

    public static long Number(this JsonNode node, string key) => node[key]!.GetValue<long>();

    public static double Real(this JsonNode node, string key) => node[key]!.GetValue<double>();

    public static List<string> Texts(this JsonNode node, string key) => [.. node[key]!.AsArray().Select(v => v!.GetValue<string>())];

    public static List<long> Numbers(this JsonNode node, string key) => [.. node[key]!.AsArray().Select(v => v!.GetValue<long>())];

    public static List<double> Reals(this JsonNode node, string key) => [.. node[key]!.AsArray().Select(v => v!.GetValue<double>())];

    /// <summary>An expect_error report: the status name ("OK" when the call succeeded) and its details.</summary>
    public static (string Code, string Details) Error(this JsonNode node, string key) => (node[key]!.Text("code"), node[key]!.Text("details"));
}
