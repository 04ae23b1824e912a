using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>Prometheus' own checker of the text format and its naming conventions (Debian package prometheus).</summary>
public static class Promtool
{
    private const string Path = "/usr/bin/promtool";

    /// <summary>promtool check metrics over <paramref name="text"/>: exit code 0 and no output when it finds nothing wrong.</summary>
    public static Task<ToolResult> CheckMetricsAsync(string text)
    {
        if (!File.Exists(Path))
            throw new InvalidOperationException($"{Path} is missing: run scripts/setup.sh, which installs the Debian package prometheus (CI does)");
        return Tool.RunWithInputAsync(Path, ["check", "metrics"], text);
    }
}
