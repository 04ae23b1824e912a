using System.Text.RegularExpressions;
using Spectre.Console;

namespace OrleansLm.Cli;

internal static partial class Cli
{
    // Library parameter names whose command-line option is spelled differently.
    private static readonly Dictionary<string, string> Options = new()
    {
        ["MaxNewTokens"] = "--max-tokens",
        ["NumSamples"] = "--samples",
        ["BeamWidth"] = "--beam",
        ["NumReturn"] = "--samples",
    };

    /// <summary>Prints a bad-input error and returns its exit code.</summary>
    public static int Fail(string message)
    {
        AnsiConsole.MarkupLineInterpolated($"[red]error[/]: {message}");
        return ExitCodes.BadInput;
    }

    /// <summary>Prints a library's argument error against the command-line option it came from.</summary>
    public static int Fail(ArgumentException error)
    {
        var message = error.Message.Split('\n')[0];
        var cut = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        if (cut >= 0) message = message[..cut];
        if (error.ParamName is not { Length: > 0 } name) return Fail(message);
        var option = Options.GetValueOrDefault(name) ?? "--" + WordBoundary().Replace(name, "$1-$2").ToLowerInvariant();
        return Fail($"{option}: {message}");
    }

    [GeneratedRegex("([a-z0-9])([A-Z])")]
    private static partial Regex WordBoundary();
}
