namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>One sample line: its name, labels (unescaped), value, and the value as written.</summary>
public sealed record ExpositionSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value, string ValueText);
