using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>
/// The text the writer makes of real instruments, read back with the tests' own <see cref="Exposition"/> parser (which
/// also rejects a family written in two places, a second TYPE line and timestamps).
/// </summary>
public class PrometheusTextWriterTests
{
    [Fact]
    public async Task CounterSumsWhatWasAddedUnderEachLabelSet()
    {
        using var meters = new ScrapedMeters();
        var counter = meters.Meter().CreateCounter<long>("olm.test.tokens", "{token}", "Tokens seen.");
        var added = new Dictionary<string, long> { ["a"] = 0, ["b"] = 0 };
        foreach (var (worker, amount) in new[] { ("a", 3L), ("b", 10L), ("a", 4L), ("b", 1L), ("a", 100L) })
        {
            counter.Add(amount, new KeyValuePair<string, object?>("worker", worker));
            added[worker] += amount;
        }

        var family = (await meters.ScrapeAsync())["olm_test_tokens_total"];

        family.Type.Should().Be("counter");
        family.Help.Should().Be("Tokens seen.");
        family.Samples.Should().HaveCount(2);
        foreach (var (worker, total) in added)
            family.Single("olm_test_tokens_total", ("worker", worker)).Value.Should().Be(total);
    }

    [Fact]
    public async Task LabelValuesAreEscapedAndLabelNamesSanitised()
    {
        using var meters = new ScrapedMeters();
        const string Path = "C:\\runs\\\"best\"\nnext line";
        meters.Meter().CreateCounter<long>("olm.test.opened", description: "Files opened.").Add(1,
            new("path", Path), new("http.route", "/v1/{id}"), new("2nd key", "x"), new("a.b", "dot"), new("a-b", "dash"),
            new("flag", true), new("ratio", 2.5), new("count", 7), new("shape", new[] { 2, 3 }));

        var scrape = await meters.ScrapeAsync();

        var labels = scrape["olm_test_opened_total"].Samples.Single().Labels;
        labels.Should().BeEquivalentTo(new Dictionary<string, string>
        {
            ["path"] = Path,
            ["http_route"] = "/v1/{id}",
            ["_2nd_key"] = "x",
            // a-b and a.b both become a_b: values joined in the order of the original names ('-' sorts before '.').
            ["a_b"] = "dash;dot",
            ["flag"] = "true",
            ["ratio"] = "2.5",
            ["count"] = "7",
            ["shape"] = "[2,3]",
        }, "the meter's name and version are not labels either");
        meters.Text.Should().Contain("path=\"C:\\\\runs\\\\\\\"best\\\"\\nnext line\"");
    }

    [Fact]
    public async Task HelpIsEscaped()
    {
        using var meters = new ScrapedMeters();
        const string Description = "Steps taken.\nSee C:\\docs for \"why\".";
        meters.Meter().CreateCounter<long>("olm.test.steps", description: Description).Add(1);

        var scrape = await meters.ScrapeAsync();

        scrape["olm_test_steps_total"].Help.Should().Be(Description);
        meters.Text.Should().Contain("# HELP olm_test_steps_total Steps taken.\\nSee C:\\\\docs for \"why\".\n");
    }

    [Fact]
    public async Task SecondsHistogramHasSecondsBucketsCumulativeUpToCount()
    {
        using var meters = new ScrapedMeters();
        var histogram = meters.Meter().CreateHistogram<double>("olm.test.step.duration", "s", "Step time.");
        double[] values = [0.0002, 0.003, 0.003, 0.5, 0.7, 2, 100, 0.049];
        foreach (var value in values)
            histogram.Record(value, new KeyValuePair<string, object?>("phase", "forward"));

        var family = (await meters.ScrapeAsync())["olm_test_step_duration_seconds"];

        family.Type.Should().Be("histogram");
        var buckets = family.Where("olm_test_step_duration_seconds_bucket", ("phase", "forward"));
        buckets.Select(b => Bound(b)).Should().Equal([.. HistogramBuckets.Seconds, double.PositiveInfinity]);
        foreach (var bucket in buckets)
            bucket.Value.Should().Be(values.Count(v => v <= Bound(bucket)), $"bucket le={bucket.Labels["le"]} counts every value at or below it");
        buckets[^1].Labels["le"].Should().Be("+Inf");
        family.Single("olm_test_step_duration_seconds_count", ("phase", "forward")).Value.Should().Be(values.Length).And.Be(buckets[^1].Value);
        family.Single("olm_test_step_duration_seconds_sum", ("phase", "forward")).Value.Should().BeApproximately(values.Sum(), 1e-9);
    }

    [Fact]
    public async Task ByteHistogramHasPowersOfFourFromKibibyteToGibibyte()
    {
        using var meters = new ScrapedMeters();
        meters.Meter().CreateHistogram<long>("olm.test.payload", "By", "Payload sizes.").Record(5000);

        var family = (await meters.ScrapeAsync())["olm_test_payload_bytes"];

        var bounds = family.Where("olm_test_payload_bytes_bucket").Select(Bound).ToList();
        bounds[0].Should().Be(1024);
        bounds[^2].Should().Be(1024 * 1024 * 1024);
        bounds.Zip(bounds.Skip(1)).Take(bounds.Count - 2).Should().OnlyContain(pair => pair.Second == 4 * pair.First);
        family.Single("olm_test_payload_bytes_bucket", ("le", "4096")).Value.Should().Be(0);
        family.Single("olm_test_payload_bytes_bucket", ("le", "16384")).Value.Should().Be(1);
    }

    [Fact]
    public async Task HistogramThatAdvisesBoundariesKeepsThem()
    {
        using var meters = new ScrapedMeters();
        var advice = new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1, 10] };
        meters.Meter().CreateHistogram("olm.test.wait", "s", "Waits.", tags: null, advice).Record(3);

        var family = (await meters.ScrapeAsync())["olm_test_wait_seconds"];

        family.Where("olm_test_wait_seconds_bucket").Select(b => (Bound(b), b.Value))
            .Should().Equal((0.1, 0), (1, 0), (10, 1), (double.PositiveInfinity, 1));
    }

    [Fact]
    public async Task ValuesAreWrittenAsPrometheusReadsThem()
    {
        using var meters = new ScrapedMeters();
        var values = new Dictionary<string, double>
        {
            ["nan"] = double.NaN, ["plus_inf"] = double.PositiveInfinity, ["minus_inf"] = double.NegativeInfinity,
            ["whole"] = 3, ["negative_whole"] = -12, ["fraction"] = 0.1, ["tiny"] = 1e-7, ["huge"] = 1e21, ["third"] = 1.0 / 3,
        };
        meters.Meter().CreateObservableGauge("olm.test.value",
            () => values.Select(v => new Measurement<double>(v.Value, new KeyValuePair<string, object?>("case", v.Key))), description: "Values.");
        const long BeyondDoublePrecision = (1L << 53) + 1;
        meters.Meter().CreateCounter<long>("olm.test.big", description: "A count beyond a double's precision.").Add(BeyondDoublePrecision);

        var scrape = await meters.ScrapeAsync();

        var samples = scrape["olm_test_value"].Samples.ToDictionary(s => s.Labels["case"]);
        samples["nan"].ValueText.Should().Be("NaN");
        samples["plus_inf"].ValueText.Should().Be("+Inf");
        samples["minus_inf"].ValueText.Should().Be("-Inf");
        samples["whole"].ValueText.Should().Be("3");
        samples["negative_whole"].ValueText.Should().Be("-12");
        foreach (var (name, value) in values.Where(v => double.IsFinite(v.Value)))
            samples[name].Value.Should().Be(value, $"{samples[name].ValueText} reads back as the value recorded");
        scrape["olm_test_big_total"].Samples.Single().ValueText.Should().Be(BeyondDoublePrecision.ToString(CultureInfo.InvariantCulture));
    }

    [Fact]
    public void FormattedDoublesReadBackExactly()
    {
        var random = new Random(17);
        for (var i = 0; i < 10_000; i++)
        {
            var value = BitConverter.Int64BitsToDouble(random.NextInt64());
            if (!double.IsFinite(value)) continue;
            var text = PrometheusText.Format(value);
            double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture).Should().Be(value, text);
        }
        PrometheusText.Format(123456789012.0).Should().Be("123456789012", "an integer is written without exponent or fraction");
    }

    [Fact]
    public async Task FamilyFedByMetersOfSeveralMetersIsWrittenInOnePlace()
    {
        using var meters = new ScrapedMeters();
        var first = meters.Meter("first");
        var second = meters.Meter("second");
        // Created in this order, the SDK hands the metrics over as steps, other, steps: the writer must regroup them.
        first.CreateCounter<long>("olm.test.steps", description: "Steps.").Add(2, new KeyValuePair<string, object?>("worker", "a"));
        first.CreateCounter<long>("olm.test.other", description: "Other.").Add(1);
        second.CreateCounter<long>("olm.test.steps", description: "Steps.").Add(5, new KeyValuePair<string, object?>("worker", "b"));

        var scrape = await meters.ScrapeAsync();

        scrape.Families.Keys.Should().BeEquivalentTo("olm_test_steps_total", "olm_test_other_total");
        var steps = scrape["olm_test_steps_total"];
        steps.Single("olm_test_steps_total", ("worker", "a")).Value.Should().Be(2);
        steps.Single("olm_test_steps_total", ("worker", "b")).Value.Should().Be(5);
        meters.Logger.Entries.Should().BeEmpty();
    }

    [Fact]
    public async Task MetricOfAnotherTypeUnderAFamilysNameIsDroppedAndLogged()
    {
        using var meters = new ScrapedMeters();
        meters.Meter("first").CreateCounter<long>("olm.test.jobs", description: "Jobs.").Add(2);
        meters.Meter("second").CreateObservableGauge("olm.test.jobs.total", () => 9, description: "Jobs now.");
        meters.Meter("third").CreateCounter<long>("olm.test.jobs", description: "Jobs.").Add(3);

        var scrape = await meters.ScrapeAsync();

        var jobs = scrape["olm_test_jobs_total"];
        jobs.Type.Should().Be("counter");
        jobs.Samples.Select(s => s.Value).Should().Equal([2], "the third meter's series repeats the first's labels, so it goes too");
        meters.Logger.Entries.Should().Contain(e => e.Level == LogLevel.Warning && e.Message.Contains("conflicts with family olm_test_jobs_total"))
            .And.Contain(e => e.Level == LogLevel.Warning && e.Message.Contains("already has a series"));

        await meters.ScrapeAsync();
        meters.Logger.Entries.Should().HaveCount(2, "a problem is logged once, not at every scrape");
    }

    [Fact]
    public async Task ConstantLabelsGoOnEverySeriesThatLacksThem()
    {
        using var meters = new ScrapedMeters();
        var meter = meters.Meter();
        meter.CreateCounter<long>("olm.test.plain", description: "Plain.").Add(1);
        meter.CreateCounter<long>("olm.test.own", description: "Own.").Add(1, new KeyValuePair<string, object?>("silo", "its own"));
        meter.CreateHistogram<double>("olm.test.time", "s", "Time.").Record(0.3, new KeyValuePair<string, object?>("phase", "x"));
        const string Silo = "127.0.0.1:11111@638000000000000000";

        var scrape = await meters.ScrapeAsync(new KeyValuePair<string, string>("silo", Silo));

        scrape["olm_test_plain_total"].Samples.Single().Labels.Should().Equal(new Dictionary<string, string> { ["silo"] = Silo });
        scrape["olm_test_own_total"].Samples.Single().Labels["silo"].Should().Be("its own");
        scrape["olm_test_time_seconds"].Samples.Should().HaveCount(HistogramBuckets.Seconds.Count + 3)
            .And.OnlyContain(s => s.Labels["silo"] == Silo && s.Labels["phase"] == "x");
    }

    [Fact]
    public async Task NothingToReportIsAnEmptyScrape()
    {
        using var meters = new ScrapedMeters();
        meters.Meter().CreateHistogram<double>("olm.test.never", "s", "Never recorded.");

        var scrape = await meters.ScrapeAsync();

        scrape.Families.Should().BeEmpty("the SDK hands over no metric without points");
        meters.Text.Should().BeEmpty();
    }

    private static double Bound(ExpositionSample bucket) => bucket.Labels["le"] switch
    {
        "+Inf" => double.PositiveInfinity,
        var le => double.Parse(le, NumberStyles.Float, CultureInfo.InvariantCulture),
    };
}
