using System.Text;
using OpenTelemetry;
using OpenTelemetry.Metrics;

namespace OrleansLm.Silo.Metrics;

/// <summary>
/// Writes OpenTelemetry metrics (cumulative) in the Prometheus text exposition format 0.0.4, without timestamps.
/// Metrics whose names map to the same family (one instrument name in several meters) are written as one family.
/// Meter names and versions are not labels; <paramref name="constantLabels"/> go on every series that has no label
/// of the same name. What the format cannot hold is dropped and said in <see cref="Problems"/>: a metric whose type
/// conflicts with its family's, a series whose labels repeat one of its family, an exponential histogram.
/// </summary>
/// <remarks>Read a batch's metrics with <see cref="Add"/> while the exporter holds it: their points are the collection's.</remarks>
public sealed class PrometheusTextWriter(IReadOnlyList<KeyValuePair<string, string>> constantLabels)
{
    private readonly Dictionary<string, PrometheusFamily> familiesByName = new(StringComparer.Ordinal);
    private readonly List<PrometheusFamily> families = [];
    private readonly List<string> problems = [];

    public IReadOnlyList<string> Problems => problems;

    public void Add(Metric metric)
    {
        if (TypeOf(metric.MetricType) is not { } type)
        {
            problems.Add($"metric {metric.Name} of meter {metric.MeterName}: a {metric.MetricType} has no Prometheus text form; dropped");
            return;
        }
        var family = FamilyOf(metric, type);
        if (family is null) return;
        foreach (ref readonly var point in metric.GetMetricPoints())
        {
            var labels = Labels(point.Tags);
            if (!family.AddSeries(labels))
            {
                problems.Add($"metric {metric.Name} of meter {metric.MeterName}: family {family.Name} already has a series {{{labels}}}; dropped");
                continue;
            }
            if (type == PrometheusType.Histogram) AppendHistogram(family, labels, point);
            else family.AppendSample("", labels, null, Value(metric.MetricType, point));
        }
    }

    public void WriteTo(TextWriter output)
    {
        foreach (var family in families)
            family.WriteTo(output);
    }

    /// <summary>The family the metric belongs to, created at its first metric; null when the metric's type conflicts with it.</summary>
    private PrometheusFamily? FamilyOf(Metric metric, PrometheusType type)
    {
        var name = PrometheusNames.MetricName(metric.Name, metric.Unit, type);
        var description = metric.Description ?? "";
        if (!familiesByName.TryGetValue(name, out var family))
        {
            family = new PrometheusFamily(name, type, description);
            familiesByName.Add(name, family);
            families.Add(family);
            return family;
        }
        if (family.Type != type)
        {
            problems.Add($"metric {metric.Name} of meter {metric.MeterName}: a {type} conflicts with family {family.Name}, a {family.Type}; dropped");
            return null;
        }
        if (family.Help.Length == 0) family.Help = description;
        else if (description.Length > 0 && description != family.Help)
            problems.Add($"metric {metric.Name} of meter {metric.MeterName}: family {family.Name} keeps its first description, not '{description}'");
        return family;
    }

    private static PrometheusType? TypeOf(MetricType type) => type switch
    {
        MetricType.LongSum or MetricType.DoubleSum => PrometheusType.Counter,
        MetricType.LongSumNonMonotonic or MetricType.DoubleSumNonMonotonic or MetricType.LongGauge or MetricType.DoubleGauge => PrometheusType.Gauge,
        MetricType.Histogram => PrometheusType.Histogram,
        _ => null,
    };

    private static string Value(MetricType type, in MetricPoint point) => type switch
    {
        MetricType.LongSum or MetricType.LongSumNonMonotonic => PrometheusText.Format(point.GetSumLong()),
        MetricType.DoubleSum or MetricType.DoubleSumNonMonotonic => PrometheusText.Format(point.GetSumDouble()),
        MetricType.LongGauge => PrometheusText.Format(point.GetGaugeLastValueLong()),
        _ => PrometheusText.Format(point.GetGaugeLastValueDouble()),
    };

    /// <summary>Buckets cumulative, ending at le="+Inf" (which counts every measurement), then _sum and _count.</summary>
    private static void AppendHistogram(PrometheusFamily family, string labels, in MetricPoint point)
    {
        var cumulative = 0L;
        foreach (var bucket in point.GetHistogramBuckets())
        {
            cumulative += bucket.BucketCount;
            family.AppendSample("_bucket", labels, $"le=\"{PrometheusText.Format(bucket.ExplicitBound)}\"", PrometheusText.Format(cumulative));
        }
        family.AppendSample("_sum", labels, null, PrometheusText.Format(point.GetHistogramSum()));
        family.AppendSample("_count", labels, null, PrometheusText.Format(point.GetHistogramCount()));
    }

    /// <summary>
    /// The point's attributes and the constant labels, sorted by name and rendered. Attributes whose names sanitise to
    /// the same label have their values joined with ';' in the order of the original names, as the specification says.
    /// </summary>
    private string Labels(ReadOnlyTagCollection tags)
    {
        var labels = new List<(string Name, string Key, string Value)>();
        foreach (var tag in tags)
            labels.Add((PrometheusNames.LabelName(tag.Key), tag.Key, PrometheusText.AttributeValue(tag.Value)));
        foreach (var (key, value) in constantLabels)
        {
            var name = PrometheusNames.LabelName(key);
            if (!labels.Exists(label => label.Name == name)) labels.Add((name, key, value));
        }

        var text = new StringBuilder();
        var ordered = labels.OrderBy(label => label.Name, StringComparer.Ordinal).ThenBy(label => label.Key, StringComparer.Ordinal);
        foreach (var label in ordered.GroupBy(label => label.Name, StringComparer.Ordinal))
        {
            if (text.Length > 0) text.Append(',');
            text.Append(label.Key).Append("=\"");
            PrometheusText.AppendLabelValue(text, string.Join(';', label.Select(l => l.Value)));
            text.Append('"');
        }
        return text.ToString();
    }
}
