using System.Runtime.Versioning;
using System.Text.RegularExpressions;
using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// The Dockerfile read as the builder reads it (no Docker engine here): pinned base images, the silo's runtime stage
/// (user, health check, ports, environment, entrypoint), the build context against .dockerignore, the restore and
/// publish steps, both libtorch variants, and the runtime packages against what the native shim links.
/// </summary>
[SupportedOSPlatform("linux")]
public class DockerfileTests
{
    private const string TorchArgument = "TORCH";
    private const string CpuTorch = "cpu";
    private const string CudaTorch = "cuda";

    private static readonly Dockerfile Dockerfile = DeploymentFiles.LoadDockerfile();

    public static TheoryData<string, string> TargetsAndVariants => new()
    {
        { DeploymentFiles.SiloTarget, CpuTorch }, { DeploymentFiles.SiloTarget, CudaTorch },
        { DeploymentFiles.ClientTarget, CpuTorch }, { DeploymentFiles.ClientTarget, CudaTorch },
    };

    public static TheoryData<string> Variants => [CpuTorch, CudaTorch];

    private static ContainerImage Image(string target, string torch = CpuTorch) =>
        Dockerfile.Image(target, new Dictionary<string, string> { [TorchArgument] = torch });

    private static ContainerImage Silo => Image(DeploymentFiles.SiloTarget);

    private static SiloListeners SiloListeners => SiloListeners.Of(Silo.Environment, "the silo image");

    [Fact]
    public void TheSiloIsTheDefaultTargetAndCpuTheDefaultVariant()
    {
        Dockerfile.Stages[^1].Name.Should().Be(DeploymentFiles.SiloTarget, "`docker build .` without --target builds the last stage");
        Dockerfile.GlobalArguments.Should().Contain(TorchArgument, CpuTorch);
    }

    [Theory]
    [MemberData(nameof(TargetsAndVariants))]
    public void EveryOutsideImageIsPinnedToAVersion(string target, string torch)
    {
        var images = Image(target, torch).OutsideImages;
        images.Should().NotBeEmpty();
        images.Where(image => !DeploymentFiles.IsPinned(image)).Should().BeEmpty($"{target} ({torch}) must name fixed versions of the images it builds from");
    }

    [Theory]
    [MemberData(nameof(TargetsAndVariants))]
    public void ImagesRunAsTheUnprivilegedUserTheyCreate(string target, string torch)
    {
        var image = Image(target, torch);
        image.User.Should().NotBeNullOrEmpty($"{target} ({torch}) must end with a USER");
        new[] { "root", "0" }.Should().NotContain(image.User, $"{target} ({torch}) must not run as root");
        var creation = image.Runs.SelectMany(run => run.Instruction.Arguments.Split("&&"))
            .Select(ShellWords.Split)
            .SingleOrDefault(words => words.Count > 1 && words[0] == "useradd" && words[^1] == image.User);
        creation.Should().NotBeNull($"a RUN of {target} ({torch}) must create user {image.User} with useradd");
        var uid = int.Parse(creation![creation.ToList().IndexOf("--uid") + 1], System.Globalization.CultureInfo.InvariantCulture);
        uid.Should().BeGreaterThan(999, $"user {image.User} must have a fixed uid outside the system range, for volumes and runAsUser");
    }

    [Fact]
    public void TheSiloListensOnAllInterfacesAndExposesExactlyThosePorts()
    {
        var listeners = SiloListeners;
        new[] { listeners.Http.Host, listeners.Gateway.Host, listeners.Grain.Address.ToString() }
            .Should().AllBe("0.0.0.0", "loopback listeners are unreachable from outside the container");
        Silo.ExposedPorts.Should().BeEquivalentTo([listeners.Http.Port, listeners.Gateway.Port, listeners.Grain.Port],
            $"EXPOSE must match {SiloListeners.UrlsVariable}, {SiloListeners.GatewayVariable} and {SiloListeners.GrainVariable}");
    }

    [Fact]
    public void TheSiloHealthCheckAsksOlmHealthOnTheImagesHttpPort()
    {
        var check = Silo.Healthcheck;
        check.Should().NotBeNull("the silo image needs a HEALTHCHECK");
        Silo.HealthcheckInstruction!.Arguments.Should().MatchRegex(@"^CMD\s+\[", "exec form: the check needs no shell");
        var olm = Silo.Copies.Single(copy => copy.From is not null && copy.Destination == Path.GetDirectoryName(check![0]));
        Path.GetFileName(check![0]).Should().Be("olm", $"the check runs the olm apphost that {olm} copies");
        check[1].Should().Be("health");
        var url = new Uri(check[check.ToList().IndexOf("--url") + 1]);
        url.Host.Should().BeOneOf("127.0.0.1", "localhost");
        url.Port.Should().Be(SiloListeners.Http.Port, $"the check must ask the port {SiloListeners.UrlsVariable} sets");

        var checkTimeout = ComposeService.Duration(Silo.HealthcheckInstruction.Flags["timeout"]);
        var olmTimeout = TimeSpan.FromSeconds(double.Parse(check[check.ToList().IndexOf("--timeout") + 1], System.Globalization.CultureInfo.InvariantCulture));
        olmTimeout.Should().BeLessThan(checkTimeout, "olm should give up and report before Docker kills the check");
        Silo.HealthcheckInstruction.Flags.Should().ContainKey("start-period", "libtorch's load and the cluster join take a while");
    }

    [Fact]
    public void TheSilosEnvironmentNamesKnownKeysAndValidatesOnceItsEntrypointAdvertisesAnAddress()
    {
        var environment = Silo.Environment.Where(variable => variable.Key.StartsWith(SiloConfiguration.EnvironmentPrefix, StringComparison.Ordinal)).ToList();
        environment.Should().NotBeEmpty();
        environment.Where(variable => !SiloConfiguration.IsKnown(SiloConfiguration.KeyOf(variable.Key)!))
            .Should().BeEmpty("every OLM_ variable of the image must name a key the silo reads");

        // Listening on 0.0.0.0 needs an advertised address, which only the container knows: the entrypoint sets it.
        var errors = SiloConfiguration.Validate(Silo.Environment);
        errors.Should().ContainSingle().Which.Should().Contain("Cluster:AdvertisedHost");
        var started = new Dictionary<string, string>(Silo.Environment) { [SiloConfiguration.VariableOf("Cluster:AdvertisedHost")] = "172.18.0.2" };
        SiloConfiguration.Validate(started).Should().BeEmpty();
    }

    [Fact]
    public void TheSilosDataPathsLieInADirectoryItsUserOwns()
    {
        var checkpoints = Silo.Environment[SiloConfiguration.VariableOf("Cluster:CheckpointRoot")];
        var models = Silo.Environment[SiloConfiguration.VariableOf("Gateway:ModelDirectory")];
        var data = Path.GetDirectoryName(checkpoints)!;
        Path.GetDirectoryName(models).Should().Be(data, "checkpoints and exported models share one volume");
        Silo.Runs.Select(run => run.Instruction.Arguments).Should().Contain(
            run => Regex.IsMatch(run, $@"install -d -o {Silo.User} -g \S+ {Regex.Escape(data)}(\s|$)"),
            $"{data} must be created owned by {Silo.User}, so that a new volume mounted there is writable");
    }

    [Fact]
    public void TheSiloStartsFromTheEntrypointScriptInTheRepository()
    {
        Silo.Entrypoint.Should().ContainSingle("the entrypoint takes the silo's arguments from CMD or docker run");
        var copy = Silo.Copies.Single(copy => copy.From is null && copy.Destination == Silo.Entrypoint![0]);
        var script = Repository.PathOf(copy.Sources.Single());
        File.ReadLines(script).First().Should().Be("#!/bin/sh");
        File.GetUnixFileMode(script).Should().HaveFlag(UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute,
            $"COPY keeps {copy.Sources.Single()}'s mode and Docker execs it directly");
        Silo.Copies.Should().Contain(c => c.From != null && c.Destination == Silo.WorkingDirectory,
            "the silo runs from its publish directory, where it reads appsettings.json");
    }

    [Fact]
    public async Task EveryCopyFromTheBuildContextIsInIt()
    {
        var ignore = DockerIgnore.Load(Repository.Root);
        var tracked = await Git("ls-files");
        var copies = Dockerfile.Stages.SelectMany(stage => stage.Instructions.Where(i => i.Keyword == "COPY" && !i.Flags.ContainsKey("from"))).ToList();
        copies.Should().NotBeEmpty();
        foreach (var copy in copies)
        {
            foreach (var source in copy.Words.SkipLast(1))
            {
                var relative = source.TrimEnd('/');
                (File.Exists(Repository.PathOf(relative)) || Directory.Exists(Repository.PathOf(relative))).Should().BeTrue($"{copy} copies {source}, which is not in the repository");
                ignore.Excludes(relative).Should().BeFalse($"{copy} copies {source}, which .dockerignore excludes ({ignore.Why(relative)})");
                tracked.Where(file => file == relative || file.StartsWith(relative + "/", StringComparison.Ordinal))
                    .Where(ignore.Excludes)
                    .Should().BeEmpty($"{copy} needs every tracked file of {source} in the build context");
            }
        }
    }

    [Fact]
    public async Task DockerignoreKeepsBuildOutputsAndHistoryOutOfTheContext()
    {
        // What git ignores here now: this checkout's bin/ and obj/ (the tests run after a build) and whatever else
        // the programs left behind.
        var ignored = (await Git("ls-files", "--others", "--ignored", "--exclude-standard", "--directory")).Select(path => path.TrimEnd('/')).ToList();
        ignored.Should().Contain(path => path.EndsWith("/bin", StringComparison.Ordinal), "the tests run from a build");
        var ignore = DockerIgnore.Load(Repository.Root);
        ignored.Where(path => !ignore.Excludes(path)).Should().BeEmpty(".dockerignore must exclude every build output and leftover git ignores");
        string[] heavy = [".git/HEAD", "silo/obj/project.assets.json", "model/obj/native/Release/libolmtorch.so", "tests/OrleansLm.Model.Tests/bin/Release/net10.0/x.dll", ".env"];
        heavy.Where(path => !ignore.Excludes(path)).Should().BeEmpty();
    }

    [Fact]
    public void TheRestoreLayerCopiesEveryProjectTheImagesBuild()
    {
        var build = BuildStage;
        var restore = build.Instructions.First(i => i.Keyword == "RUN" && i.Arguments.Contains("dotnet restore", StringComparison.Ordinal));
        var restored = Commands(restore, "restore").Select(words => words[2]).ToList();
        var copiedBefore = build.Instructions.TakeWhile(i => i != restore).Where(i => i.Keyword == "COPY")
            .SelectMany(copy => copy.Words.SkipLast(1)).ToHashSet(StringComparer.Ordinal);

        var needed = DeploymentFiles.ProjectClosure(restored).Append("Directory.Build.props").Append("Directory.Packages.props");
        needed.Where(file => !copiedBefore.Contains(file)).Should().BeEmpty($"restore ({restore}) reads these, so they must be copied before it");

        var published = build.Instructions.Where(i => i.Keyword == "RUN").SelectMany(run => Commands(run, "publish")).Select(words => words[2]);
        published.Should().BeEquivalentTo(restored, "what is restored is what is published, with --no-restore");
        var projects = DeploymentFiles.ProjectClosure(restored).Select(project => Path.GetDirectoryName(project)!.Replace('\\', '/') + "/");
        var copiedAfter = build.Instructions.SkipWhile(i => i != restore).Where(i => i.Keyword == "COPY").SelectMany(copy => copy.Words.SkipLast(1)).ToList();
        projects.Where(directory => !copiedAfter.Any(source => directory.StartsWith(source, StringComparison.Ordinal)))
            .Should().BeEmpty("the sources of every project must be copied before the publish");
    }

    [Fact]
    public void TheBuildStageMirrorsTheRepositoryLayout()
    {
        // Project references and Directory.*.props resolve as in the checkout only if every file lands at its own path.
        var build = BuildStage;
        foreach (var copy in build.Instructions.Where(i => i.Keyword == "COPY" && !i.Flags.ContainsKey("from")))
        {
            var words = copy.Words;
            var destination = words[^1] is "./" or "." ? "" : words[^1];
            foreach (var source in words.SkipLast(1))
            {
                // A directory's contents land in the destination; a file too, unless the destination is a directory
                // (a trailing '/', or the WORKDIR itself), where it keeps its name.
                var landing = source.EndsWith('/') || (destination.Length > 0 && !destination.EndsWith('/')) ? destination : destination + Path.GetFileName(source);
                landing.TrimEnd('/').Should().Be(source.TrimEnd('/'), $"{copy} must copy {source} to its own path under the build's WORKDIR");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void EveryPublishBuildsTheShimAgainstTheVariantsLibtorch(string torch)
    {
        var silo = Image(DeploymentFiles.SiloTarget, torch);
        var build = BuildImage(silo);
        var prefix = build.Environment["TORCH_CMAKE_PREFIX"];
        var publishes = build.Runs.SelectMany(run => Commands(run.Instruction, "publish")).ToList();
        publishes.Should().HaveCount(2);
        foreach (var publish in publishes)
        {
            var property = publish.SingleOrDefault(word => word.StartsWith("-p:TorchCMakePrefix=", StringComparison.Ordinal));
            property.Should().NotBeNull($"dotnet publish {publish[2]} must pass -p:TorchCMakePrefix");
            Dockerfile.Substitute(property!["-p:TorchCMakePrefix=".Length..], build.Environment).Should().Be(prefix);
        }

        if (torch == CpuTorch)
        {
            prefix.Should().BeEmpty("Debian's libtorch-dev is where CMake looks anyway");
            build.AptPackages.Should().Contain("libtorch-dev");
            silo.AptPackages.Should().Contain(["libtorch1.13", "libopenblas0-pthread"]);
        }
        else
        {
            prefix.Should().StartWith("/");
            build.Runs.Should().Contain(run => run.Instruction.Arguments.Contains($"-d {Path.GetDirectoryName(prefix)}", StringComparison.Ordinal),
                $"the CUDA stage must unpack libtorch to {prefix}");
            // libolmtorch.so finds libtorch through the RPATH of the build, so the runtime must hold it at the same path.
            silo.Copies.Should().Contain(copy => copy.From != null && copy.Sources.SequenceEqual(new[] { prefix + "/lib" }) && copy.Destination == prefix + "/lib");
            silo.AptPackages.Should().NotContain("libtorch1.13");
            silo.Environment["NVIDIA_DRIVER_CAPABILITIES"].Split(',').Should().Contain("compute", "without it no libcuda is mounted");
        }
    }

    [Fact]
    public async Task TheCudaVariantDownloadsTheLibtorchVersionOfTheCpuVariant()
    {
        var build = BuildImage(Image(DeploymentFiles.SiloTarget, CudaTorch));
        var download = build.Runs.Single(run => run.Instruction.Arguments.Contains("curl ", StringComparison.Ordinal));
        var variable = Regex.Match(download.Instruction.Arguments, @"curl [^&]*?""?\$\{?(?<name>\w+)").Groups["name"].Value;
        var declaration = download.Stage.Instructions.TakeWhile(i => i != download.Instruction)
            .LastOrDefault(i => i.Keyword == "ARG" && Dockerfile.Assignment(i.Words.Single()).Name == variable);
        declaration.Should().NotBeNull($"{download.Instruction} downloads ${variable}, which its stage must declare with a default");
        var url = new Uri(Dockerfile.Assignment(declaration!.Words.Single()).Value!);
        (url.Scheme, url.Host).Should().Be(("https", "download.pytorch.org"));
        // The shim is developed and tested against Debian's libtorch: the CUDA build should be the same release.
        var debian = (await Tool.RunAsync("dpkg-query", ["-W", "-f=${Version}", "libtorch-dev"])).Split('+')[0];
        Uri.UnescapeDataString(url.AbsolutePath).Should().Contain($"-{debian}+cu");
    }

    [Fact]
    public async Task TheCpuRuntimeInstallsEveryLibraryTheShimLinks()
    {
        var shim = Path.Combine(AppContext.BaseDirectory, "libolmtorch.so");
        var needed = Regex.Matches(await Tool.RunAsync("readelf", ["-d", shim]), @"\(NEEDED\)\s+Shared library: \[(.+?)\]").Select(m => m.Groups[1].Value).ToList();
        needed.Should().Contain("libtorch.so.1.13");

        var installed = Silo.AptPackages;
        var provided = new HashSet<string>(installed, StringComparer.Ordinal);
        foreach (var package in installed)
            provided.UnionWith(PackageNames(await Tool.RunAsync("dpkg-query", ["-W", "-f=${Depends},${Pre-Depends}", package])));
        foreach (var library in needed)
        {
            var owners = (await Tool.RunAsync("dpkg", ["-S", $"*/{library}"])).Split('\n', StringSplitOptions.RemoveEmptyEntries)
                .Select(line => line[..line.IndexOf(':')]).ToHashSet();
            owners.Should().IntersectWith(provided, $"{library} (from {string.Join(", ", owners)}) must come with the runtime's packages {string.Join(' ', installed)}");
        }
    }

    [Fact]
    public void ParserResolvesStagesContinuationsArgumentsAndInheritance()
    {
        var dockerfile = Dockerfile.Parse("""
            # syntax comment, then a global ARG only FROM sees
            ARG FLAVOUR=plain
            FROM debian:12.11-slim AS base
            ENV A=1 \
            # a comment inside a continuation
                B="two words"
            CMD ["base"]
            USER nobody
            FROM base AS plain
            ENV A=${A}0 C=${MISSING:-fallback}
            ENTRYPOINT ["/bin/tool"]
            FROM base AS fancy
            CMD ["fancy"]
            ENTRYPOINT /bin/tool --fancy
            HEALTHCHECK --interval=5s CMD ["/bin/check", "--port", "1"]
            EXPOSE 80 443/tcp
            FROM ${FLAVOUR} AS final
            WORKDIR /app
            WORKDIR sub
            COPY --from=base --chown=1:1 /etc/a /etc/b /dest/
            """);
        dockerfile.Stages.Select(s => s.Name).Should().Equal("base", "plain", "fancy", "final");

        var plain = dockerfile.Image("final");
        plain.Chain.Select(s => s.Name).Should().Equal("base", "plain", "final");
        plain.BaseImage.Should().Be("debian:12.11-slim");
        plain.Environment.Should().BeEquivalentTo(new Dictionary<string, string> { ["A"] = "10", ["B"] = "two words", ["C"] = "fallback" });
        plain.Entrypoint.Should().Equal("/bin/tool");
        plain.Cmd.Should().BeNull("a new ENTRYPOINT drops the CMD inherited from the base stage");
        plain.User.Should().Be("nobody");
        plain.WorkingDirectory.Should().Be("/app/sub");
        var copy = plain.Copies.Single();
        copy.From.Should().Be("base");
        copy.Sources.Should().Equal("/etc/a", "/etc/b");
        copy.Destination.Should().Be("/dest/");
        copy.Instruction.Flags.Should().BeEquivalentTo(new Dictionary<string, string> { ["from"] = "base", ["chown"] = "1:1" });

        var fancy = dockerfile.Image("final", new Dictionary<string, string> { ["FLAVOUR"] = "fancy" });
        fancy.Cmd.Should().Equal("fancy");
        fancy.Entrypoint.Should().Equal("/bin/sh", "-c", "/bin/tool --fancy");
        fancy.Healthcheck.Should().Equal("/bin/check", "--port", "1");
        fancy.HealthcheckInstruction!.Flags.Should().BeEquivalentTo(new Dictionary<string, string> { ["interval"] = "5s" });
        fancy.ExposedPorts.Should().Equal(80, 443);
        fancy.HealthcheckInstruction.Line.Should().Be(15);
    }

    /// <summary>The image of the build stage whose outputs <paramref name="image"/> copies.</summary>
    private static ContainerImage BuildImage(ContainerImage image) => Dockerfile.Image(
        image.Copies.Select(copy => copy.From).OfType<string>().Distinct().Single(from => Dockerfile.Stages.Any(s => s.Name == from && s.Instructions.Any(IsPublish))),
        image.BuildArguments);

    private static DockerfileStage BuildStage => Dockerfile.Stages.Single(stage => stage.Instructions.Any(IsPublish));

    private static bool IsPublish(DockerfileInstruction instruction) =>
        instruction.Keyword == "RUN" && instruction.Arguments.Contains("dotnet publish", StringComparison.Ordinal);

    /// <summary>The <c>dotnet VERB ...</c> commands of a RUN, each as its words.</summary>
    private static IEnumerable<IReadOnlyList<string>> Commands(DockerfileInstruction run, string verb) =>
        run.Arguments.Split("&&").Select(ShellWords.Split).Where(words => words.Count > 2 && words[0] == "dotnet" && words[1] == verb);

    /// <summary>The package names of a dpkg Depends field (alternatives and version constraints dropped).</summary>
    private static IEnumerable<string> PackageNames(string depends) =>
        depends.Split([',', '|'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(dependency => dependency.Split([' ', '('], 2)[0].Split(':')[0]);

    private static async Task<IReadOnlyList<string>> Git(params string[] arguments) =>
        (await Tool.RunAsync("git", ["-C", Repository.Root, .. arguments])).Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
