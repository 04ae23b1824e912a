using System.Text.RegularExpressions;
using OrleansLm.Integration.Tests.Metrics;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// The PrometheusRule as the cpu overlay renders it: promtool checks its rules, and its unit tests
/// (Deployment/alerts.test.yaml) feed series that must fire each alert and series that must not.
/// </summary>
public class KustomizeAlertTests
{
    private const string Variant = "overlays/cpu";

    /// <summary>The name alerts.test.yaml's rule_files gives the rules.</summary>
    private const string RulesFile = "olm-alerts.rules.yaml";

    [Fact]
    public async Task RulesPassPromtoolsCheck()
    {
        using var directory = await RulesDirectory.WriteAsync();

        var report = await Promtool.CheckRulesAsync(Path.Combine(directory.Path, RulesFile));

        report.Should().Contain($"SUCCESS: {Rules(await Kustomize.RenderAsync(Variant)).Count()} rules found");
    }

    [Fact]
    public async Task AlertsFireOnTheirSeriesAndNotOnOthers()
    {
        using var directory = await RulesDirectory.WriteAsync();
        var tests = Path.Combine(directory.Path, "alerts.test.yaml");
        File.Copy(Repository.PathOf("tests/OrleansLm.Integration.Tests/Deployment/alerts.test.yaml"), tests);

        var report = await Promtool.TestRulesAsync(tests);

        report.Should().Contain("SUCCESS");
    }

    [Fact]
    public async Task EveryAlertIsUnitTested()
    {
        var manifests = await Kustomize.RenderAsync(Variant);
        var tests = await File.ReadAllTextAsync(Repository.PathOf("tests/OrleansLm.Integration.Tests/Deployment/alerts.test.yaml"));

        var alerts = Rules(manifests).Select(rule => Manifest.Scalar(rule["alert"])).ToList();
        alerts.Should().NotBeEmpty();
        foreach (var alert in alerts)
            tests.Should().Contain($"alertname: {alert}", $"alerts.test.yaml must test {alert}");
    }

    [Fact]
    public async Task SiloDownWatchesTheJobTheServiceMonitorScrapes()
    {
        var manifests = await Kustomize.RenderAsync(Variant);
        var silo = new SiloDeployment(manifests);
        var monitor = manifests.OfKind("ServiceMonitor").Single();
        monitor.Find("spec.jobLabel").Should().BeNull($"{monitor}: without spec.jobLabel the job label is the Service's name");
        var scraped = silo.Services.Single(s => Manifest.Scalar(s.Find("spec.clusterIP")) == "None");

        var expression = Manifest.Scalar(Rules(manifests).Single(rule => Manifest.Scalar(rule["alert"]) == "OrleansLmSiloDown")["expr"]);

        Regex.Match(expression, "job=\"([^\"]+)\"").Groups[1].Value.Should().Be(scraped.Name,
            $"OrleansLmSiloDown's expr must watch the job of the Service {monitor} scrapes");
    }

    private static IEnumerable<System.Text.Json.Nodes.JsonObject> Rules(RenderedManifests manifests) =>
        manifests.OfKind("PrometheusRule").Should().ContainSingle().Subject.At("spec.groups").AsArray()
            .SelectMany(group => group!["rules"]!.AsArray()).Select(rule => rule!.AsObject());

    /// <summary>A temporary directory holding the rendered PrometheusRule's spec as a rules file (JSON, which YAML reads).</summary>
    private sealed class RulesDirectory : IDisposable
    {
        private RulesDirectory(string path) => Path = path;

        public string Path { get; }

        public static async Task<RulesDirectory> WriteAsync()
        {
            var rule = (await Kustomize.RenderAsync(Variant)).OfKind("PrometheusRule").Single();
            var directory = new RulesDirectory(Directory.CreateTempSubdirectory("olm-alerts-").FullName);
            await File.WriteAllTextAsync(System.IO.Path.Combine(directory.Path, RulesFile), rule.At("spec").ToJsonString());
            return directory;
        }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
