using System.Text;

namespace OrleansLm.Silo.Metrics;

/// <summary>One metric family of a scrape: its HELP and TYPE lines once, then every sample, whichever metrics they came from.</summary>
internal sealed class PrometheusFamily(string name, PrometheusType type, string help)
{
    private readonly StringBuilder samples = new();
    private readonly HashSet<string> series = new(StringComparer.Ordinal);

    public string Name { get; } = name;

    public PrometheusType Type { get; } = type;

    /// <summary>The first non-empty description among the family's metrics.</summary>
    public string Help { get; set; } = help;

    /// <summary>Claims a label set for one series (one histogram counts as one); false when the family already has it.</summary>
    public bool AddSeries(string labels) => series.Add(labels);

    /// <param name="labels">Rendered labels without braces (name="value",...), possibly empty.</param>
    /// <param name="lastLabel">A label that goes after them (a bucket's le), or null.</param>
    public void AppendSample(string suffix, string labels, string? lastLabel, string value)
    {
        samples.Append(Name).Append(suffix);
        if (labels.Length > 0 || lastLabel is not null)
        {
            samples.Append('{').Append(labels);
            if (labels.Length > 0 && lastLabel is not null) samples.Append(',');
            samples.Append(lastLabel).Append('}');
        }
        samples.Append(' ').Append(value).Append('\n');
    }

    public void WriteTo(TextWriter output)
    {
        if (Help.Length > 0) output.Write($"# HELP {Name} {PrometheusText.EscapeHelp(Help)}\n");
        output.Write($"# TYPE {Name} {Type.ToString().ToLowerInvariant()}\n");
        output.Write(samples);
    }
}
