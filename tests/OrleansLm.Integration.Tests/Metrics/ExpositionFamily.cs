namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>A metric family as <see cref="Exposition"/> read it.</summary>
public sealed class ExpositionFamily(string name, string type, string? help)
{
    public string Name { get; } = name;

    public string Type { get; } = type;

    /// <summary>Unescaped; null when the family has no HELP line.</summary>
    public string? Help { get; } = help;

    public List<ExpositionSample> Samples { get; } = [];

    /// <summary>The family's samples named <paramref name="name"/> (e.g. a histogram's name_bucket) that carry every given label.</summary>
    public IReadOnlyList<ExpositionSample> Where(string name, params (string Label, string Value)[] labels) =>
        [.. Samples.Where(s => s.Name == name && labels.All(l => s.Labels.TryGetValue(l.Label, out var value) && value == l.Value))];

    /// <summary>The one sample named <paramref name="name"/> with the given labels.</summary>
    public ExpositionSample Single(string name, params (string Label, string Value)[] labels)
    {
        var matches = Where(name, labels);
        return matches.Count == 1 ? matches[0]
            : throw new InvalidOperationException($"{matches.Count} samples {name} with {string.Join(",", labels)} in family {Name}");
    }

    /// <summary>Whether a sample of this name belongs here: the family's own name, or a histogram's _bucket, _sum and _count.</summary>
    public bool Owns(string sampleName) =>
        sampleName == Name || (Type == "histogram" && (sampleName == Name + "_bucket" || sampleName == Name + "_sum" || sampleName == Name + "_count"));
}
