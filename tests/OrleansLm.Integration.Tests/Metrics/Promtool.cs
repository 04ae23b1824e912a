using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>Prometheus' own checker of the text format, its naming conventions and rules (Debian package prometheus).</summary>
public static class Promtool
{
    private const string Path = "/usr/bin/promtool";

    /// <summary>promtool check metrics over <paramref name="text"/>: exit code 0 and no output when it finds nothing wrong.</summary>
    public static Task<ToolResult> CheckMetricsAsync(string text) => Tool.RunWithInputAsync(Installed(), ["check", "metrics"], text);

    /// <summary>promtool check rules: the file's rules parse, with valid PromQL and templates; throws with its report otherwise.</summary>
    public static Task<string> CheckRulesAsync(string rulesFile) => Tool.RunAsync(Installed(), ["check", "rules", rulesFile]);

    /// <summary>promtool test rules: the unit tests of a test file (its rule_files relative to it) pass; throws with the failures otherwise.</summary>
    public static Task<string> TestRulesAsync(string testFile) => Tool.RunAsync(Installed(), ["test", "rules", testFile]);

    private static string Installed() => File.Exists(Path)
        ? Path
        : throw new InvalidOperationException($"{Path} is missing: run scripts/setup.sh, which installs the Debian package prometheus (CI does)");
}
