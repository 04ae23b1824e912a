using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using OrleansLm.Testing;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// The silo image short of a Docker engine. This machine is what the Dockerfile's build stage is (Debian 12, the .NET
/// SDK, libtorch-dev), so the stage's own <c>dotnet publish</c> commands run here, in the checkout (the stage copies it
/// file for file), writing where the runtime stage copies from; <see cref="HostPath"/> then finds what a path of the
/// image holds. The publish reuses the checkout's Release build, which it must leave as it was.
/// </summary>
public sealed class PublishedImage(IMessageSink diagnostics) : IAsyncLifetime
{
    private readonly List<(string ImagePath, string HostPath)> layout = [];

    public ContainerImage Image { get; } = DeploymentFiles.LoadDockerfile().Image(DeploymentFiles.SiloTarget);

    /// <summary>
    /// Where the build stage's outputs go: one directory per checkout, reused, because publish keeps a record in obj/
    /// for every output directory it has written to.
    /// </summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(),
        "orleanslm-image-" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(Repository.Root)))[..12]);

    public TimeSpan PublishTime { get; private set; }

    /// <summary>
    /// Build outputs of the published projects that the publish changed, removed, or added outside obj/; publish's
    /// records of its own runs in obj/ aside.
    /// </summary>
    public IReadOnlyList<string> ChangedBuildOutputs { get; private set; } = [];

    /// <summary>The path on this machine of <paramref name="imagePath"/>: below the COPY that put it in the image.</summary>
    public string HostPath(string imagePath)
    {
        var (copied, host) = layout.Where(entry => imagePath == entry.ImagePath || imagePath.StartsWith(entry.ImagePath.TrimEnd('/') + "/", StringComparison.Ordinal))
            .MaxBy(entry => entry.ImagePath.Length);
        return copied is null
            ? throw new InvalidOperationException($"no COPY of the silo image puts anything at {imagePath}")
            : host + imagePath[copied.Length..];
    }

    public async Task InitializeAsync()
    {
        var dockerfile = Image.Dockerfile;
        var buildStage = Image.Copies.Select(copy => copy.From).OfType<string>().Distinct()
            .Single(from => dockerfile.Stages.Any(stage => stage.Name == from && stage.Instructions.Any(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet publish", StringComparison.Ordinal))));
        var build = dockerfile.Image(buildStage, Image.BuildArguments);
        foreach (var copy in Image.Copies)
        {
            var source = copy.Sources.Single();
            var host = copy.From == buildStage ? Root + source
                : copy.From is null ? Repository.PathOf(source)
                : source; // a stage or image of Debian and .NET files, which this machine has at the same paths
            layout.Add((copy.Destination, host));
        }

        var publishes = build.Runs.Select(run => run.Instruction).Where(run => run.Arguments.Contains("dotnet publish", StringComparison.Ordinal)).ToList();
        RequireTheTestsConfiguration(publishes);
        var projects = DeploymentFiles.ProjectClosure(publishes.SelectMany(run => ShellWords.Split(run.Arguments))
            .Where(word => word.EndsWith(".csproj", StringComparison.Ordinal)));
        if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
        var before = BuildOutputs(projects);
        var environment = build.Environment.ToDictionary(variable => variable.Key, string? (variable) => variable.Value);
        environment["MSBUILDDISABLENODEREUSE"] = "1"; // no build servers left behind by a test
        var clock = Stopwatch.StartNew();
        foreach (var publish in publishes)
        {
            var command = Image.Copies.Where(copy => copy.From == buildStage)
                .Aggregate(publish.Arguments, (text, copy) => text.Replace(copy.Sources.Single(), Root + copy.Sources.Single(), StringComparison.Ordinal));
            await Tool.RunAsync("/bin/sh", ["-c", command], environment, Repository.Root);
        }
        PublishTime = clock.Elapsed;
        diagnostics.OnMessage(new DiagnosticMessage($"{nameof(PublishedImage)}: the build stage's dotnet publish took {PublishTime.TotalSeconds:0.0} s"));
        var after = BuildOutputs(projects);
        ChangedBuildOutputs =
        [
            .. before.Keys.Where(path => !after.ContainsKey(path) && !IsPublishRecord(path)).Select(path => $"removed {path}"),
            .. before.Where(file => after.TryGetValue(file.Key, out var hash) && hash != file.Value && !IsPublishRecord(file.Key)).Select(file => $"changed {file.Key}"),
            .. after.Keys.Where(path => !before.ContainsKey(path) && !IsIntermediate(path)).Select(path => $"added {path}"),
        ];
    }

    /// <summary>
    /// The publish reuses the checkout's build only in the configuration it publishes; from a build of another, it
    /// would compile that one first, minutes, and add its outputs.
    /// </summary>
    private static void RequireTheTestsConfiguration(IEnumerable<DockerfileInstruction> publishes)
    {
        var tests = typeof(PublishedImage).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration;
        foreach (var words in publishes.SelectMany(publish => publish.Arguments.Split("&&")).Select(ShellWords.Split).Where(words => words.Contains("publish")))
        {
            var configuration = words.ToList().IndexOf("-c") is var at and >= 0 ? words[at + 1] : "Debug";
            if (configuration != tests)
                throw new InvalidOperationException(
                    $"the Dockerfile publishes {configuration} and these tests are a {tests} build: run them from a {configuration} build (dotnet test -c {configuration}, as scripts/test.sh does)");
        }
    }

    private static bool IsIntermediate(string path) => path.Contains("/obj/", StringComparison.Ordinal);

    /// <summary>What publish keeps in obj/ about its own runs (PublishOutputs.*.txt, staticwebassets.publish.json, ...), which no build reads.</summary>
    private static bool IsPublishRecord(string path) => IsIntermediate(path) && Path.GetFileName(path).Contains("publish", StringComparison.OrdinalIgnoreCase);

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Every file in the bin/ and obj/ directories of <paramref name="projects"/>, by repository path, with its SHA-256.</summary>
    private static Dictionary<string, string> BuildOutputs(IEnumerable<string> projects)
    {
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var project in projects)
        foreach (var output in new[] { "bin", "obj" })
        {
            var directory = Path.Combine(Path.GetDirectoryName(Repository.PathOf(project))!, output);
            if (!Directory.Exists(directory)) continue;
            foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories))
            {
                using var stream = File.OpenRead(file);
                files[Path.GetRelativePath(Repository.Root, file)] = Convert.ToHexString(SHA256.HashData(stream));
            }
        }
        return files;
    }
}
