using System.Text.Json.Nodes;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;
using OrleansLm.Testing;
using Xunit.Abstractions;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>
/// A real Prometheus (Debian's) scrapes a gateway silo process while a run trains on it and clients sample from it;
/// the tests then ask Prometheus, through its HTTP API, what it collected: the series exist, with sane values, and
/// every query of the Grafana dashboard returns data.
/// </summary>
public sealed class PrometheusScrapeTests(PrometheusScrapeTests.ScrapedSilo scraped) : IClassFixture<PrometheusScrapeTests.ScrapedSilo>
{
    public const string RunId = "scraped";
    public const string Model = "scraped-model";

    /// <summary>The gateway silo after a run trained on it for several scrapes, and after sampling calls.</summary>
    public sealed class ScrapedSilo(IMessageSink diagnostics) : GatewaySilo(diagnostics)
    {
        private static readonly TimeSpan Patience = TimeSpan.FromMinutes(2);
        private PrometheusServer? prometheus;

        public PrometheusServer Prometheus => prometheus ?? throw new InvalidOperationException("prometheus has not started");

        /// <summary>How many scrapes of the run's token counter showed it rising before the run was stopped.</summary>
        public const int RisingScrapes = 5;

        public override async Task InitializeAsync()
        {
            await base.InitializeAsync();
            prometheus = await PrometheusServer.StartAsync([$"{HttpAddress.Host}:{HttpAddress.Port}"]);
            await TrainModelAsync(Model, steps: 30);
            using var client = Client();
            var generate = new GenerateRequest { Model = Model, Prompt = "to be", MaxNewTokens = 8, Seed = 1 };
            await client.UnaryAsync<GenerateResponse>("/olm.v1.SamplingService/Generate", generate, SamplingToken);
            for (var i = 0; i < 3; i++)
            {
                var stream = await client.CallAsync("/olm.v1.SamplingService/GenerateStream", RawGrpcClient.Frame(generate), [RawGrpcClient.Bearer(SamplingToken)]);
                if (stream.Status != StatusCode.OK) throw new InvalidOperationException($"GenerateStream ended {stream}");
            }
            await client.CallAsync("/olm.v1.SamplingService/Generate", RawGrpcClient.Frame(new GenerateRequest(generate) { Temperature = -1 }), [RawGrpcClient.Bearer(SamplingToken)]);

            // A run long enough that Prometheus sees it progress over several scrapes, stopped once it has; learning
            // slowly, so its loss still falls after the first scrape (at the usual rate it has learnt the corpus by then).
            await client.UnaryAsync<Run>("/olm.v1.TrainingService/StartRun",
                new StartRunRequest { RunId = RunId, Config = RunYaml(steps: 1_000_000, evalEvery: 50, learningRate: "3.0e-5") }, AdminToken);
            await Eventually.HoldsAsync(async () =>
            {
                var tokens = await Prometheus.QueryRangeAsync($"olm_training_tokens_total{{run=\"{RunId}\"}}", TimeSpan.FromMinutes(5));
                var validation = await Prometheus.QueryAsync($"olm_training_validation_loss{{run=\"{RunId}\"}}");
                return tokens.Count == 1 && tokens[0].Values.Distinct().Count() >= RisingScrapes && validation.Count == 1;
            }, Patience, $"Prometheus scrapes the run's token counter rising {RisingScrapes} times and a validation loss");
            await client.UnaryAsync<Run>("/olm.v1.TrainingService/StopRun", new StopRunRequest { RunId = RunId }, AdminToken);
            await Task.Delay(TimeSpan.FromSeconds(2.5)); // two more scrapes: the stop and the sampling calls are in
        }

        public override async Task DisposeAsync()
        {
            if (prometheus is not null) await prometheus.DisposeAsync();
            await base.DisposeAsync();
        }
    }

    private PrometheusServer Prometheus => scraped.Prometheus;

    /// <summary>The one sample <paramref name="promql"/> gives; the failure names the query and what it gave.</summary>
    private async Task<double> Value(string promql)
    {
        var result = await Prometheus.QueryAsync(promql);
        result.Should().ContainSingle($"{promql} gives one sample; it gave [{string.Join(", ", result.Select(r => $"{r.Labels.ToJsonString()} {r.Value}"))}]");
        return result[0].Value;
    }

    [Fact]
    public async Task TheSiloIsScrapedWithoutErrorsAndEverySeriesNamesIt()
    {
        (await Prometheus.TargetsAsync()).Should().Equal([("up", "")]);
        var series = await Prometheus.QueryAsync("count by (silo) ({job=\"orleanslm\", __name__=~\"olm_.*|process_.*|dotnet_.*\"})");
        series.Should().ContainSingle().Which.Labels["silo"]!.GetValue<string>().Should().NotBeEmpty();
    }

    [Fact]
    public async Task TokensTrainedRiseAndTheLossFalls()
    {
        var tokens = (await Prometheus.QueryRangeAsync($"olm_training_tokens_total{{run=\"{RunId}\"}}", TimeSpan.FromMinutes(5))).Single();
        tokens.Labels["model"]!.GetValue<string>().Should().Be("transformer");
        tokens.Values.Should().BeInAscendingOrder().And.Subject.Distinct().Should().HaveCountGreaterThanOrEqualTo(ScrapedSilo.RisingScrapes);
        var loss = (await Prometheus.QueryRangeAsync($"olm_training_loss{{run=\"{RunId}\"}}", TimeSpan.FromMinutes(5))).Single().Values;
        loss.Should().OnlyContain(l => double.IsFinite(l) && l > 0);
        loss.TakeLast(2).Average().Should().BeLessThan(loss.Take(2).Average() - 0.1, "the run learns its corpus between the first scrapes and the last (scraped losses: {0})", string.Join(", ", loss.Distinct().Select(l => l.ToString("F3"))));
        var running = await Prometheus.QueryAsync($"olm_training_running{{run=\"{RunId}\"}}");
        running.Single().Value.Should().Be(0, "the run was stopped");
        var validation = await Prometheus.QueryAsync($"olm_training_validation_perplexity{{run=\"{RunId}\"}} - exp(olm_training_validation_loss{{run=\"{RunId}\"}})");
        validation.Single().Value.Should().BeApproximately(0, 1e-9);
    }

    [Fact]
    public async Task StepPhasesAndParameterTrafficAreRecorded()
    {
        var phases = await Prometheus.QueryAsync($"sum by (phase) (olm_training_phase_duration_seconds_count{{run=\"{RunId}\"}})");
        phases.Select(p => p.Labels["phase"]!.GetValue<string>()).Should().BeEquivalentTo(["pull", "data", "forward", "backward", "push", "aggregate"]);
        var steps = (await Prometheus.QueryAsync($"olm_training_step{{run=\"{RunId}\"}}")).Single().Value;
        var received = (await Prometheus.QueryAsync($"sum(olm_ps_received_bytes_total{{run=\"{RunId}\"}})")).Single().Value;
        received.Should().BePositive();
        (received % (steps * sizeof(float))).Should().Be(0, "each step every worker pushes one float per parameter");
        var buckets = await Prometheus.QueryAsync($"olm_training_step_duration_seconds_bucket{{run=\"{RunId}\", le=\"+Inf\"}} - on(run, model, silo, instance, job) olm_training_step_duration_seconds_count");
        buckets.Single().Value.Should().Be(0, "the +Inf bucket counts every step");
    }

    [Fact]
    public async Task GatewayCallsAreCountedByMethodAndCodeWithTimeToFirstToken()
    {
        (await Value("olm_gateway_requests_total{method=\"olm.v1.SamplingService/GenerateStream\", code=\"OK\"}")).Should().Be(3);
        (await Value("olm_gateway_requests_total{method=\"olm.v1.SamplingService/Generate\", code=\"InvalidArgument\"}")).Should().Be(1);
        (await Value($"olm_gateway_time_to_first_token_seconds_count{{model=\"{Model}\"}}")).Should().Be(3);
        (await Value($"olm_gateway_streamed_tokens_total{{model=\"{Model}\"}}")).Should().Be(3 * 8, "three streams of eight tokens");
        (await Value("olm_gateway_streams_active{method=\"olm.v1.SamplingService/GenerateStream\"}")).Should().Be(0);
        (await Value("histogram_quantile(0.5, sum by (le) (olm_gateway_request_duration_seconds_bucket{method=\"olm.v1.SamplingService/GenerateStream\"}))"))
            .Should().BeInRange(0, 30);
    }

    [Fact]
    public async Task RuntimeMembershipAndProcessSeriesHaveSaneValues()
    {
        (await Value("olm_membership_silos{status=\"active\"}")).Should().Be(1, "the silo is alone in its cluster");
        (await Value("sum(olm_grain_calls_total{grain=\"IWorkerGrain\", outcome=\"ok\"})")).Should().BePositive();
        (await Value("sum(olm_grain_activations)")).Should().BePositive();
        (await Value("process_resident_memory_bytes")).Should().BeGreaterThan(10 * 1024 * 1024);
        (await Value("process_cpu_seconds_total")).Should().BePositive();
        (await Value("olm_tensors_live")).Should().BeGreaterThanOrEqualTo(0);
    }

    [Fact]
    public async Task EveryQueryOfTheGrafanaDashboardReturnsData()
    {
        var dashboard = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "dashboards", "orleanslm.json")))!;
        var queries = dashboard["panels"]!.AsArray()
            .SelectMany(panel => panel!["targets"]?.AsArray() ?? [])
            .Select(target => target!["expr"]!.GetValue<string>())
            .ToList();
        queries.Should().HaveCountGreaterThan(20);
        var empty = new List<string>();
        foreach (var query in queries)
        {
            // Grafana substitutes the run variable ("All" is .*); [1m] and [5m] windows reach back over the run.
            var result = await Prometheus.QueryAsync(query.Replace("$run", ".*"));
            if (result.Count == 0) empty.Add(query);
        }
        empty.Should().BeEmpty("every panel of the dashboard shows something once a run has trained and clients have sampled");
    }
}
