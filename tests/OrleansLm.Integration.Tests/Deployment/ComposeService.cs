using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.RepresentationModel;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>A port a service publishes on the host: host address (null for all), host port, container port.</summary>
public sealed record ComposePort(string? HostIp, int? Published, int Target, string Protocol);

/// <summary>A volume or bind mount: its source (a named volume, or a host path), where it is mounted, read-only or not.</summary>
public sealed record ComposeMount(string Type, string Source, string Target, bool ReadOnly);

/// <summary>
/// One service of <c>docker-compose config</c>'s output, in either syntax Compose writes (short strings or long
/// mappings for ports and volumes; mappings or NAME=value lists for the environment).
/// </summary>
public sealed partial class ComposeService(string name, YamlMappingNode node)
{
    public string Name { get; } = name;

    public YamlMappingNode Node { get; } = node;

    public string? Image => Node.ChildOrNull("image")?.Scalar();

    public string? Hostname => Node.ChildOrNull("hostname")?.Scalar();

    /// <summary>The Dockerfile target it builds, null when it does not build (or builds the default target).</summary>
    public string? BuildTarget => Node.ChildOrNull("build") is YamlMappingNode build ? build.ChildOrNull("target")?.Scalar() : null;

    public IReadOnlyList<string> Profiles => Node.ChildOrNull("profiles")?.Scalars() ?? [];

    public IReadOnlyList<string> Command => Node.ChildOrNull("command")?.Scalars() ?? [];

    public IReadOnlyList<string>? HealthcheckTest => (Node.ChildOrNull("healthcheck") as YamlMappingNode)?.ChildOrNull("test")?.Scalars();

    public TimeSpan? StopGracePeriod => Node.ChildOrNull("stop_grace_period") is { } period ? Duration(period.Scalar()) : null;

    public IReadOnlyDictionary<string, string> Environment => Node.ChildOrNull("environment") switch
    {
        null => new Dictionary<string, string>(),
        YamlMappingNode map => map.Children.ToDictionary(e => e.Key.Scalar(), e => (e.Value as YamlScalarNode)?.Value ?? "", StringComparer.Ordinal),
        var list => list.Scalars().Select(item => item.Split('=', 2)).ToDictionary(pair => pair[0], pair => pair.Length > 1 ? pair[1] : "", StringComparer.Ordinal),
    };

    /// <summary>The services it depends on, with the condition it waits for (service_started for the short syntax).</summary>
    public IReadOnlyDictionary<string, string> DependsOn => Node.ChildOrNull("depends_on") switch
    {
        null => new Dictionary<string, string>(),
        YamlMappingNode map => map.Children.ToDictionary(
            e => e.Key.Scalar(), e => e.Value.Mapping().ChildOrNull("condition")?.Scalar() ?? "service_started", StringComparer.Ordinal),
        var list => list.Scalars().ToDictionary(service => service, _ => "service_started", StringComparer.Ordinal),
    };

    public IReadOnlyList<ComposePort> Ports => Node.ChildOrNull("ports")?.Sequence().Children.Select(Port).ToList() ?? [];

    public IReadOnlyList<ComposeMount> Volumes => Node.ChildOrNull("volumes")?.Sequence().Children.Select(Mount).ToList() ?? [];

    public override string ToString() => Name;

    /// <summary>A Compose duration: "45s", "1m30s", "500ms".</summary>
    public static TimeSpan Duration(string text)
    {
        var parts = DurationPart().Matches(text);
        if (parts.Count == 0 || string.Concat(parts.Select(p => p.Value)) != text) throw new FormatException($"'{text}' is not a duration like 1m30s");
        return parts.Aggregate(TimeSpan.Zero, (sum, part) =>
        {
            var amount = double.Parse(part.Groups[1].Value, CultureInfo.InvariantCulture);
            return sum + part.Groups[2].Value switch
            {
                "h" => TimeSpan.FromHours(amount),
                "m" => TimeSpan.FromMinutes(amount),
                "s" => TimeSpan.FromSeconds(amount),
                "ms" => TimeSpan.FromMilliseconds(amount),
                _ => TimeSpan.FromMicroseconds(amount),
            };
        });
    }

    private static ComposePort Port(YamlNode node)
    {
        if (node is YamlMappingNode map)
            return new ComposePort(map.ChildOrNull("host_ip")?.Scalar(), map.ChildOrNull("published") is { } published ? Number(published.Scalar()) : null,
                Number(map.Child("target").Scalar()), map.ChildOrNull("protocol")?.Scalar() ?? "tcp");
        var text = node.Scalar();
        var slash = text.IndexOf('/');
        var protocol = slash < 0 ? "tcp" : text[(slash + 1)..];
        var parts = (slash < 0 ? text : text[..slash]).Split(':');
        return parts.Length switch
        {
            1 => new ComposePort(null, null, Number(parts[0]), protocol),
            2 => new ComposePort(null, Number(parts[0]), Number(parts[1]), protocol),
            3 => new ComposePort(parts[0], parts[1].Length == 0 ? null : Number(parts[1]), Number(parts[2]), protocol),
            _ => throw new FormatException($"port '{text}' is not [[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]"),
        };
    }

    private static ComposeMount Mount(YamlNode node)
    {
        if (node is YamlMappingNode map)
            return new ComposeMount(map.Child("type").Scalar(), map.Child("source").Scalar(), map.Child("target").Scalar(),
                map.ChildOrNull("read_only")?.Scalar() == "true");
        var parts = node.Scalar().Split(':');
        if (parts.Length is < 2 or > 3) throw new FormatException($"volume '{node.Scalar()}' is not SOURCE:TARGET[:MODE]");
        var type = parts[0].StartsWith('/') || parts[0].StartsWith('.') ? "bind" : "volume";
        return new ComposeMount(type, parts[0], parts[1], parts.Length == 3 && parts[2].Split(',').Contains("ro"));
    }

    private static int Number(string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : throw new FormatException($"'{text}' is not a port number");

    [GeneratedRegex(@"(\d+(?:\.\d+)?)(h|ms|m|s|us)")]
    private static partial Regex DurationPart();
}
