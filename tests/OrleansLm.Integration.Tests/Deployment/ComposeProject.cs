using OrleansLm.Testing;
using YamlDotNet.RepresentationModel;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// A docker-compose file as Compose itself resolves it: the output of <c>docker-compose config</c> (Debian's
/// docker-compose, installed by scripts/setup.sh), which validates the file against the Compose schema, substitutes
/// <c>${VARIABLE:-default}</c>, merges YAML anchors and writes every service out in full.
/// </summary>
public sealed class ComposeProject
{
    public const string Binary = "/usr/bin/docker-compose";

    /// <summary>The prefix of the variables docker-compose.yml substitutes; the tests set them, never the caller's shell.</summary>
    public const string VariablePrefix = "ORLEANSLM_";

    private ComposeProject(YamlMappingNode root)
    {
        Services = root.Child("services").Mapping().Children.ToDictionary(
            entry => entry.Key.Scalar(), entry => new ComposeService(entry.Key.Scalar(), entry.Value.Mapping()), StringComparer.Ordinal);
        Volumes = root.Children.TryGetValue("volumes", out var volumes) ? volumes.Mapping().Children.Keys.Select(key => key.Scalar()).ToHashSet() : [];
    }

    public IReadOnlyDictionary<string, ComposeService> Services { get; }

    /// <summary>The named volumes the file declares.</summary>
    public IReadOnlySet<string> Volumes { get; }

    public ComposeService this[string service] =>
        Services.TryGetValue(service, out var found) ? found : throw new KeyNotFoundException($"no service {service}; the file has {string.Join(", ", Services.Keys)}");

    /// <summary>
    /// Runs <c>docker-compose config</c> on <paramref name="composeFile"/> with <paramref name="variables"/> in its
    /// environment file (none: every default applies), and parses what it prints.
    /// </summary>
    public static async Task<ComposeProject> ConfigAsync(string composeFile, IReadOnlyDictionary<string, string>? variables = null)
    {
        if (!File.Exists(Binary))
            throw new InvalidOperationException($"{Binary} is missing: run scripts/setup.sh (it installs Debian's docker-compose)");
        var environmentFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllLinesAsync(environmentFile, (variables ?? new Dictionary<string, string>()).Select(v => $"{v.Key}={v.Value}"));
            var inherited = Environment.GetEnvironmentVariables().Keys.Cast<string>()
                .Where(name => name.StartsWith(VariablePrefix, StringComparison.Ordinal))
                .ToDictionary(name => name, string? (_) => null);
            var output = await Tool.RunAsync(Binary, ["--env-file", environmentFile, "-f", composeFile, "config"], inherited);
            return Parse(output);
        }
        finally
        {
            File.Delete(environmentFile);
        }
    }

    private static ComposeProject Parse(string yaml)
    {
        var stream = new YamlStream();
        stream.Load(new StringReader(yaml));
        return new ComposeProject(stream.Documents.Single().RootNode.Mapping());
    }
}
