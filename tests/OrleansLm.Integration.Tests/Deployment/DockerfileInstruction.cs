using System.Text.Json;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// One Dockerfile instruction, continuation lines joined: its keyword (upper case), its leading <c>--name[=value]</c>
/// flags, the arguments after them, and the line it starts on.
/// </summary>
public sealed record DockerfileInstruction(string Keyword, IReadOnlyDictionary<string, string> Flags, string Arguments, int Line)
{
    /// <summary>The arguments in exec form (a JSON array of strings), or null for the shell form.</summary>
    public IReadOnlyList<string>? ExecForm { get; } = ParseExecForm(Arguments);

    /// <summary>The arguments split into words as a shell would, quotes removed.</summary>
    public IReadOnlyList<string> Words => ShellWords.Split(Arguments);

    /// <summary>The command of RUN, CMD, ENTRYPOINT (or HEALTHCHECK's CMD): its exec form, or the shell form run by /bin/sh -c.</summary>
    public static IReadOnlyList<string> Command(string arguments) => ParseExecForm(arguments) ?? ["/bin/sh", "-c", arguments];

    public override string ToString() => $"line {Line}: {Keyword} {Arguments}";

    public static DockerfileInstruction Parse(string text, int line)
    {
        var space = text.IndexOfAny([' ', '\t']);
        var keyword = (space < 0 ? text : text[..space]).ToUpperInvariant();
        var rest = space < 0 ? "" : text[space..].TrimStart();
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        while (rest.StartsWith("--", StringComparison.Ordinal))
        {
            var end = rest.IndexOfAny([' ', '\t']);
            var flag = end < 0 ? rest : rest[..end];
            var equals = flag.IndexOf('=');
            flags[equals < 0 ? flag[2..] : flag[2..equals]] = equals < 0 ? "" : flag[(equals + 1)..];
            rest = end < 0 ? "" : rest[end..].TrimStart();
        }
        return new DockerfileInstruction(keyword, flags, rest, line);
    }

    private static IReadOnlyList<string>? ParseExecForm(string arguments)
    {
        if (!arguments.StartsWith('[')) return null;
        try
        {
            return JsonSerializer.Deserialize<string[]>(arguments);
        }
        catch (JsonException)
        {
            return null; // Docker too runs an argument that is not a JSON array of strings as a shell command.
        }
    }
}
