using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OrleansLm.Protos.Grpc;
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
    public static int Fail(string message) => Fail(message, json: false);

    /// <summary>Prints a bad-input error, as a JSON line under --json, and returns its exit code.</summary>
    public static int Fail(string message, bool json)
    {
        Error(message, json);
        return ExitCodes.BadInput;
    }

    /// <summary>Prints <c>error: message</c>, or <c>{"error": message}</c> under --json.</summary>
    public static void Error(string message, bool json)
    {
        if (json) JsonLines.Write(new JsonObject { ["error"] = message });
        else AnsiConsole.MarkupLineInterpolated($"[red]error[/]: {message}");
    }

    /// <summary>Prints a failed call as <c>error: STATUS: detail</c> (a JSON line under --json) and returns its exit code.</summary>
    public static int Fail(RpcException error, bool json)
    {
        var status = GrpcProtocol.StatusName(error.Status);
        if (json) JsonLines.Write(new JsonObject { ["error"] = error.Detail, ["status"] = status });
        else AnsiConsole.MarkupLineInterpolated($"[red]error[/]: {status}: {error.Detail}");
        return ExitCodes.For(error.Status);
    }

    /// <summary>An enum value as the CLI shows it, in text and JSON alike: RunState.Running is "running".</summary>
    public static string Name(Enum value) => JsonNamingPolicy.SnakeCaseLower.ConvertName(value.ToString());

    /// <summary>A size in bytes for people: 1.5 MiB.</summary>
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        var unit = 0;
        double size = bytes;
        for (; size >= 1024 && unit < units.Length - 1; unit++) size /= 1024;
        return unit == 0 ? $"{bytes} B" : $"{size:0.#} {units[unit]}";
    }

    /// <summary>A token's text for a table cell: line breaks and tabs made visible, markup escaped.</summary>
    public static string Cell(string text) => Markup.Escape(text.Replace("\n", "\\n").Replace("\t", "\\t"));

    /// <summary>Prints a library's argument error against the command-line option it came from.</summary>
    public static int Fail(ArgumentException error, bool json = false)
    {
        var message = error.Message.Split('\n')[0];
        var cut = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        if (cut >= 0) message = message[..cut];
        if (error.ParamName is not { Length: > 0 } name) return Fail(message, json);
        var option = Options.GetValueOrDefault(name) ?? "--" + WordBoundary().Replace(name, "$1-$2").ToLowerInvariant();
        return Fail($"{option}: {message}", json);
    }

    [GeneratedRegex("([a-z0-9])([A-Z])")]
    private static partial Regex WordBoundary();
}
