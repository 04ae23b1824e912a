using System.Net;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>Where a silo listens, read off the environment its container runs with.</summary>
public sealed record SiloListeners(Uri Http, Uri Gateway, IPEndPoint Grain)
{
    public static readonly string UrlsVariable = SiloConfiguration.VariableOf(SiloConfiguration.UrlsKey);
    public static readonly string GatewayVariable = SiloConfiguration.VariableOf("Gateway:Listen");
    public static readonly string GrainVariable = SiloConfiguration.VariableOf("Cluster:Listen");

    /// <summary>
    /// The listeners <paramref name="environment"/> sets; each must be set there: appsettings.json's defaults listen on
    /// loopback, which nothing outside the container reaches. <paramref name="who"/> names the container in failures.
    /// </summary>
    public static SiloListeners Of(IReadOnlyDictionary<string, string> environment, string who)
    {
        string Required(string variable) =>
            environment.TryGetValue(variable, out var value) && value.Length > 0
                ? value
                : throw new InvalidOperationException($"{who}: {variable} is not set (the silo's default listens on loopback only)");
        var urls = Required(UrlsVariable).Split(';');
        if (urls.Length != 1) throw new InvalidOperationException($"{who}: {UrlsVariable} '{Required(UrlsVariable)}' names several URLs");
        return new SiloListeners(new Uri(urls[0]), new Uri(Required(GatewayVariable)), IPEndPoint.Parse(Required(GrainVariable)));
    }
}

/// <summary>The deployment files of the repository and what the tests read off them together.</summary>
public static partial class DeploymentFiles
{
    public static string DockerfilePath => Repository.PathOf("Dockerfile");

    public static string ComposePath => Repository.PathOf("docker-compose.yml");

    /// <summary>The Dockerfile target that the silo services build, and the client's.</summary>
    public const string SiloTarget = "silo";
    public const string ClientTarget = "client";

    public static Dockerfile LoadDockerfile() => Dockerfile.Load(DockerfilePath);

    /// <summary>The services of <paramref name="project"/> that run the silo image.</summary>
    public static IReadOnlyList<ComposeService> Silos(ComposeProject project) =>
        project.Services.Values.Where(service => service.BuildTarget == SiloTarget).OrderBy(service => service.Name, StringComparer.Ordinal).ToList();

    /// <summary>The environment <paramref name="service"/>'s container runs with: its image's ENV, then its own on top.</summary>
    public static IReadOnlyDictionary<string, string> EnvironmentOf(ComposeService service)
    {
        var target = service.BuildTarget ?? throw new InvalidOperationException($"{service} does not build from the Dockerfile");
        var environment = new Dictionary<string, string>(LoadDockerfile().Image(target).Environment, StringComparer.Ordinal);
        foreach (var (name, value) in service.Environment) environment[name] = value;
        return environment;
    }

    /// <summary>
    /// Whether an image reference names one fixed version: a digest, or a tag with a version number (x.y), never
    /// "latest" or a bare major version that moves.
    /// </summary>
    public static bool IsPinned(string image) => image.Contains("@sha256:", StringComparison.Ordinal) || PinnedTag().IsMatch(image);

    /// <summary>
    /// <paramref name="projects"/> (paths relative to the repository) and every project they reference, transitively,
    /// as repository-relative paths with '/' separators.
    /// </summary>
    public static IReadOnlySet<string> ProjectClosure(IEnumerable<string> projects)
    {
        var closure = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Queue<string>(projects);
        while (pending.TryDequeue(out var project))
        {
            if (!closure.Add(project)) continue;
            var directory = Path.GetDirectoryName(Repository.PathOf(project))!;
            foreach (var reference in XDocument.Load(Repository.PathOf(project)).Descendants("ProjectReference"))
            {
                var full = Path.GetFullPath(Path.Combine(directory, reference.Attribute("Include")!.Value.Replace('\\', '/')));
                pending.Enqueue(Path.GetRelativePath(Repository.Root, full).Replace('\\', '/'));
            }
        }
        return closure;
    }

    [GeneratedRegex(@"^[^@]+:[^:/@]*\d+\.\d+[^:/@]*$")]
    private static partial Regex PinnedTag();
}
