using System.Globalization;

namespace OrleansLm.Bench;

/// <summary>
/// A benchmark's command line: integer options "--name value" with defaults, and "--json PATH". Values must be
/// positive unless the option is listed as allowing zero.
/// </summary>
internal sealed class BenchArguments
{
    private readonly Dictionary<string, int> values;

    private BenchArguments(Dictionary<string, int> values, string? jsonPath)
    {
        this.values = values;
        JsonPath = jsonPath;
    }

    /// <summary>Where to write the results as JSON; null: nowhere.</summary>
    public string? JsonPath { get; }

    public int this[string name] => values[name];

    /// <summary>The parsed options, or null after naming the bad argument on stderr.</summary>
    public static BenchArguments? Parse(string[] args, IReadOnlyDictionary<string, int> defaults, params string[] zeroAllowed)
    {
        var values = new Dictionary<string, int>(defaults);
        string? jsonPath = null;
        for (var i = 0; i < args.Length; i++)
        {
            if (args[i] == "--json" && i + 1 < args.Length) jsonPath = args[++i];
            else if (values.ContainsKey(args[i]) && i + 1 < args.Length
                     && int.TryParse(args[i + 1], NumberStyles.None, CultureInfo.InvariantCulture, out var value)
                     && (value > 0 || zeroAllowed.Contains(args[i])))
                values[args[i++]] = value;
            else
            {
                Console.Error.WriteLine($"bad argument '{args[i]}'");
                return null;
            }
        }
        return new BenchArguments(values, jsonPath);
    }
}
