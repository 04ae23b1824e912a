using System.Collections.Frozen;
using System.Text;
using System.Text.RegularExpressions;

namespace OrleansLm.Silo.Metrics;

/// <summary>
/// Metric and label names as OpenTelemetry's "Prometheus and OpenMetrics compatibility" specification maps them:
/// invalid characters become '_' (runs of '_' collapse to one), the unit becomes a suffix in words unless the name
/// already ends with it, and monotonic sums end in _total, after the unit.
/// </summary>
public static partial class PrometheusNames
{
    private const string TotalSuffix = "_total";

    /// <summary>UCUM units as Prometheus spells them. "1" (dimensionless) says nothing as a suffix, except on gauges (ratio).</summary>
    private static readonly FrozenDictionary<string, string> Units = new Dictionary<string, string>
    {
        ["d"] = "days", ["h"] = "hours", ["min"] = "minutes", ["s"] = "seconds",
        ["ms"] = "milliseconds", ["us"] = "microseconds", ["ns"] = "nanoseconds",
        ["By"] = "bytes", ["KiBy"] = "kibibytes", ["MiBy"] = "mebibytes", ["GiBy"] = "gibibytes", ["TiBy"] = "tebibytes",
        ["KBy"] = "kilobytes", ["MBy"] = "megabytes", ["GBy"] = "gigabytes", ["TBy"] = "terabytes",
        ["m"] = "meters", ["V"] = "volts", ["A"] = "amperes", ["J"] = "joules", ["W"] = "watts", ["g"] = "grams",
        ["Cel"] = "celsius", ["Hz"] = "hertz", ["%"] = "percent", ["1"] = "",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>Units after '/', singular: By/s is bytes_per_second.</summary>
    private static readonly FrozenDictionary<string, string> PerUnits = new Dictionary<string, string>
    {
        ["s"] = "second", ["m"] = "minute", ["min"] = "minute", ["h"] = "hour", ["d"] = "day", ["w"] = "week", ["mo"] = "month", ["y"] = "year",
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The Prometheus name of a metric family: <paramref name="name"/> sanitised, with unit and type suffixes.</summary>
    public static string MetricName(string name, string? unit, PrometheusType type)
    {
        var metric = Sanitize(name, allowColon: true);
        // The unit goes before _total, so a counter named requests_total in seconds is requests_seconds_total.
        if (type == PrometheusType.Counter && metric.EndsWith(TotalSuffix, StringComparison.Ordinal) && metric.Length > TotalSuffix.Length)
            metric = metric[..^TotalSuffix.Length];
        var suffix = UnitSuffix(unit, type);
        if (suffix.Length > 0 && metric != suffix && !metric.EndsWith("_" + suffix, StringComparison.Ordinal))
            metric += "_" + suffix;
        return type == PrometheusType.Counter ? metric + TotalSuffix : metric;
    }

    /// <summary>A label name: [a-zA-Z_][a-zA-Z0-9_]*.</summary>
    public static string LabelName(string key) => Sanitize(key, allowColon: false);

    /// <summary>
    /// The unit as a name suffix ("" for none): annotations in braces dropped ({request} is a count, unitless),
    /// abbreviations in words, X/Y as X_per_Y, "1" as ratio on gauges.
    /// </summary>
    public static string UnitSuffix(string? unit, PrometheusType type)
    {
        if (string.IsNullOrWhiteSpace(unit)) return "";
        if (unit == "1") return type == PrometheusType.Gauge ? "ratio" : "";
        var parts = Annotation().Replace(unit, "").Split('/', 2, StringSplitOptions.TrimEntries);
        var measure = Units.GetValueOrDefault(parts[0], parts[0]);
        var per = parts.Length == 2 ? PerUnits.GetValueOrDefault(parts[1], parts[1]) : "";
        var words = per.Length == 0 ? measure : measure.Length == 0 ? $"per_{per}" : $"{measure}_per_{per}";
        return words.Length == 0 ? "" : Sanitize(words, allowColon: false).Trim('_');
    }

    private static string Sanitize(string text, bool allowColon)
    {
        var name = new StringBuilder(text.Length + 1);
        foreach (var c in text)
        {
            var valid = char.IsAsciiLetterOrDigit(c) || c == '_' || (allowColon && c == ':');
            var next = valid ? c : '_';
            if (next == '_' && name.Length > 0 && name[^1] == '_') continue;
            name.Append(next);
        }
        if (name.Length == 0 || char.IsAsciiDigit(name[0])) name.Insert(0, '_');
        return name.ToString();
    }

    [GeneratedRegex(@"\{[^}]*\}")]
    private static partial Regex Annotation();
}
