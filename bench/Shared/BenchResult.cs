using System.Globalization;

namespace OrleansLm.Bench;

/// <summary>One measured value as the benchmarks print it and write it to their JSON.</summary>
internal sealed record BenchResult(string Name, string Unit, double Value, string Description)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Name,-28} {Value,12:F2} {Unit,-8} {Description}");

    public object ToJson() => new { name = Name, unit = Unit, value = Math.Round(Value, 3), description = Description };
}
