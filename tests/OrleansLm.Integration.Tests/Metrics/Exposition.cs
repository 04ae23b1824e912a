using System.Globalization;
using System.Text;

namespace OrleansLm.Integration.Tests.Metrics;

/// <summary>
/// The tests' own reader of the Prometheus text format 0.0.4, written from the format's description rather than from
/// the writer: it unescapes HELP and label values, and throws on what the format forbids or we promise not to write
/// (a second TYPE for a family, a family's samples apart, a sample outside its family, timestamps, a missing final newline).
/// </summary>
public sealed class Exposition
{
    private readonly Dictionary<string, ExpositionFamily> families = new(StringComparer.Ordinal);

    private Exposition()
    {
    }

    public IReadOnlyDictionary<string, ExpositionFamily> Families => families;

    public ExpositionFamily this[string name] =>
        families.TryGetValue(name, out var family) ? family : throw new KeyNotFoundException($"no family {name} among {string.Join(", ", families.Keys)}");

    public static Exposition Parse(string text)
    {
        var exposition = new Exposition();
        if (text.Length > 0 && !text.EndsWith('\n')) throw new FormatException("the last line does not end with a line feed");
        ExpositionFamily? current = null;
        string? pendingHelpName = null;
        string? pendingHelp = null;
        foreach (var line in text.Split('\n')[..^1])
        {
            if (line.StartsWith("# HELP ", StringComparison.Ordinal))
            {
                var rest = line["# HELP ".Length..];
                var space = rest.IndexOf(' ');
                pendingHelpName = space < 0 ? rest : rest[..space];
                pendingHelp = space < 0 ? "" : UnescapeHelp(rest[(space + 1)..]);
            }
            else if (line.StartsWith("# TYPE ", StringComparison.Ordinal))
            {
                var parts = line["# TYPE ".Length..].Split(' ');
                if (parts.Length != 2) throw new FormatException($"TYPE line '{line}'");
                if (exposition.families.ContainsKey(parts[0])) throw new FormatException($"a second TYPE line for {parts[0]}");
                current = new ExpositionFamily(parts[0], parts[1], pendingHelpName == parts[0] ? pendingHelp : null);
                exposition.families.Add(current.Name, current);
            }
            else if (line.StartsWith('#') || line.Length == 0)
            {
                throw new FormatException($"unexpected line '{line}'");
            }
            else
            {
                var sample = ParseSample(line);
                if (current is null || !current.Owns(sample.Name))
                    throw new FormatException($"sample '{line}' is not in its family's group (current family: {current?.Name ?? "none"})");
                current.Samples.Add(sample);
            }
        }
        return exposition;
    }

    private static ExpositionSample ParseSample(string line)
    {
        var nameEnd = line.IndexOfAny(['{', ' ']);
        if (nameEnd <= 0) throw new FormatException($"sample '{line}' has no name");
        var name = line[..nameEnd];
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        var position = nameEnd;
        if (line[position] == '{')
        {
            position++;
            while (line[position] != '}')
            {
                var equals = line.IndexOf('=', position);
                var label = line[position..equals];
                if (line[equals + 1] != '"') throw new FormatException($"label {label} in '{line}' is not quoted");
                var value = new StringBuilder();
                position = equals + 2;
                while (line[position] != '"')
                {
                    if (line[position] == '\\')
                    {
                        position++;
                        value.Append(line[position] switch
                        {
                            'n' => '\n',
                            '\\' => '\\',
                            '"' => '"',
                            var other => throw new FormatException($"escape \\{other} in '{line}'"),
                        });
                    }
                    else value.Append(line[position]);
                    position++;
                }
                if (!labels.TryAdd(label, value.ToString())) throw new FormatException($"label {label} twice in '{line}'");
                position++;
                if (line[position] == ',') position++;
            }
            position++;
        }
        if (line[position] != ' ') throw new FormatException($"no space before the value in '{line}'");
        var valueText = line[(position + 1)..];
        if (valueText.Contains(' ')) throw new FormatException($"a timestamp or more after the value in '{line}'");
        return new ExpositionSample(name, labels, ParseValue(valueText), valueText);
    }

    private static double ParseValue(string text) => text switch
    {
        "+Inf" => double.PositiveInfinity,
        "-Inf" => double.NegativeInfinity,
        "NaN" => double.NaN,
        _ => double.Parse(text, NumberStyles.Float, CultureInfo.InvariantCulture),
    };

    private static string UnescapeHelp(string text)
    {
        var help = new StringBuilder();
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\\' && i + 1 < text.Length && text[i + 1] is 'n' or '\\')
                help.Append(text[++i] == 'n' ? '\n' : '\\');
            else help.Append(text[i]);
        }
        return help.ToString();
    }
}
