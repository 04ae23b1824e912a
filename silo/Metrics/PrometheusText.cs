using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace OrleansLm.Silo.Metrics;

/// <summary>Values and escapes of the Prometheus text exposition format 0.0.4.</summary>
public static class PrometheusText
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    /// <summary>Doubles below this magnitude that hold an integer are written as one, without exponent or fraction.</summary>
    private const double ExactIntegerLimit = 9007199254740992; // 2^53

    /// <summary>+Inf, -Inf, NaN; integers as integers; otherwise the shortest text that reads back as the same double.</summary>
    public static string Format(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ when Math.Abs(value) < ExactIntegerLimit && value == Math.Floor(value) => ((long)value).ToString(CultureInfo.InvariantCulture),
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    public static string Format(long value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Appends a label value (what goes between its double quotes): backslash, double quote and line feed escaped.</summary>
    public static void AppendLabelValue(StringBuilder text, string value)
    {
        foreach (var c in value)
        {
            if (c == '\\') text.Append(@"\\");
            else if (c == '"') text.Append("\\\"");
            else if (c == '\n') text.Append(@"\n");
            else text.Append(c);
        }
    }

    /// <summary>HELP text: backslash and line feed escaped (double quotes stay as they are).</summary>
    public static string EscapeHelp(string help) => help.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);

    /// <summary>
    /// An attribute value as a label value, as OpenTelemetry's attribute specification writes non-strings: booleans
    /// in lower case, numbers in the invariant culture, arrays as JSON arrays.
    /// </summary>
    public static string AttributeValue(object? value) => value switch
    {
        null => "",
        string text => text,
        bool flag => flag ? "true" : "false",
        double number => Format(number),
        float number => Format(number),
        IFormattable formattable => formattable.ToString(null, CultureInfo.InvariantCulture),
        IEnumerable array => JsonSerializer.Serialize(array),
        _ => value.ToString() ?? "",
    };
}
