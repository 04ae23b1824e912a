using System.Net;
using System.Runtime.Versioning;
using OrleansLm.Cli;
using OrleansLm.Silo.Hosting;
using OrleansLm.Testing;
using OrleansLm.Testing.Processes;
using Xunit.Abstractions;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// The silo image's files, built by its own build stage (<see cref="PublishedImage"/>), run as the container would run
/// them: its ENTRYPOINT in its WORKDIR with its ENV under compose's silo-1 environment, then its HEALTHCHECK.
/// </summary>
[SupportedOSPlatform("linux")]
public sealed class PublishedImageTests(PublishedImage published, ITestOutputHelper output) : IClassFixture<PublishedImage>
{
    private static readonly TimeSpan StopPatience = TimeSpan.FromSeconds(60);

    private ContainerImage Image => published.Image;

    [Fact]
    public void PublishingLeavesTheCheckoutsBuildOutputsAsTheyWere()
    {
        output.WriteLine($"the build stage's dotnet publish took {published.PublishTime.TotalSeconds:0.0} s");
        published.ChangedBuildOutputs.Should().BeEmpty("the other test projects run on these outputs");
    }

    [Fact]
    public void ThePublishedLayoutHoldsWhatTheRuntimeStageRuns()
    {
        var app = published.HostPath(Image.WorkingDirectory);
        foreach (var file in new[] { "OrleansLm.Silo.dll", "OrleansLm.Silo.runtimeconfig.json", "appsettings.json", "libolmtorch.so" })
            File.Exists(Path.Combine(app, file)).Should().BeTrue($"{Image.WorkingDirectory} must hold {file}");
        File.GetUnixFileMode(Path.Combine(app, "OrleansLm.Silo")).Should().HaveFlag(UnixFileMode.OtherExecute, "the entrypoint execs the silo's apphost");

        var olm = published.HostPath(Image.Healthcheck![0]);
        File.GetUnixFileMode(olm).Should().HaveFlag(UnixFileMode.OtherExecute, $"the health check runs {Image.Healthcheck[0]}");
        foreach (var file in new[] { "olm.dll", "olm.runtimeconfig.json", "libolmtorch.so" })
            File.Exists(Path.Combine(Path.GetDirectoryName(olm)!, file)).Should().BeTrue($"{Path.GetDirectoryName(Image.Healthcheck[0])} must hold {file}");

        foreach (var directory in new[] { app, Path.GetDirectoryName(olm)! })
            Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Select(file => Path.GetRelativePath(directory, file))
                .Where(file => file.Split('/').Any(segment => segment is "bin" or "obj"))
                .Should().BeEmpty($"no build output of another project may ship as content of {directory}");
    }

    [Fact]
    public async Task TheSiloStartsFromItsEntrypointWithSilo1sEnvironmentAndPassesItsHealthCheck()
    {
        var compose = await ComposeProject.ConfigAsync(DeploymentFiles.ComposePath);
        var silo = compose["silo-1"];
        var http = LoopbackPorts.Free();
        var gateway = LoopbackPorts.Free();
        var grain = LoopbackPorts.Free();
        var environment = new Dictionary<string, string>(DeploymentFiles.EnvironmentOf(silo))
        {
            [SiloListeners.UrlsVariable] = $"http://127.0.0.1:{http}",
            [SiloListeners.GatewayVariable] = $"http://127.0.0.1:{gateway}",
            // Still a wildcard, as in the container: the entrypoint must find the address to advertise.
            [SiloListeners.GrainVariable] = $"0.0.0.0:{grain}",
        };
        environment.Remove(SiloConfiguration.VariableOf("Cluster:Postgres")).Should().BeTrue("silo-1 joins through PostgreSQL, which is not here: it runs as a cluster of one");
        var data = silo.Volumes.Single(volume => volume.Type == "volume").Target;
        foreach (var (name, value) in environment.Where(variable => variable.Value.StartsWith(data + "/", StringComparison.Ordinal)).ToList())
            environment[name] = Path.Combine(published.Root, "data") + value[data.Length..];

        var entrypoint = Image.Entrypoint!;
        var launch = new SiloLaunch(published.HostPath(entrypoint[0]), [.. entrypoint.Skip(1), .. Image.Cmd ?? []], ClusterHost.ReadyLine)
        {
            Environment = environment,
            WorkingDirectory = published.HostPath(Image.WorkingDirectory),
        };
        await using var process = await SiloProcess.StartAsync(output, silo.Name, launch);

        var ownAddress = (await Tool.RunAsync("hostname", ["-i"])).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .First(address => IPAddress.TryParse(address, out var parsed) && parsed.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork);
        process.Address.EndPoint.Should().Be(new IPEndPoint(IPAddress.Parse(ownAddress), grain), "the entrypoint advertises the address the host name resolves to");

        (await HealthCheck(http)).Should().Match<ToolResult>(result => result.ExitCode == ExitCodes.Ok, "the HEALTHCHECK passes while the silo serves");

        var olm = published.HostPath(Image.Healthcheck![0]);
        var gatewayUrl = $"http://127.0.0.1:{gateway}";
        var admin = await Tool.ResultOfAsync(olm, ["run", "status", "--gateway", gatewayUrl, "--token", environment[SiloConfiguration.VariableOf("Gateway:AdminToken")]]);
        admin.ExitCode.Should().Be(ExitCodes.Ok, $"compose's admin token controls training: {admin.Error}{admin.Output}");
        var sampling = await Tool.ResultOfAsync(olm, ["run", "status", "--gateway", gatewayUrl, "--token", environment[SiloConfiguration.VariableOf("Gateway:SamplingToken")]]);
        sampling.ExitCode.Should().Be(ExitCodes.Unauthenticated, $"compose's sampling token may not control training: {sampling.Error}{sampling.Output}");

        process.Terminate();
        (await process.WaitForExitAsync(StopPatience)).Should().Be(0, "SIGTERM reaches the silo itself (the entrypoint execs it), which leaves gracefully");
        (await HealthCheck(http)).ExitCode.Should().Be(ExitCodes.Unavailable, "the HEALTHCHECK fails once the silo is gone");
    }

    /// <summary>The image's HEALTHCHECK command, run here against the silo's HTTP port <paramref name="port"/> instead of the image's.</summary>
    private async Task<ToolResult> HealthCheck(int port)
    {
        var check = Image.Healthcheck!;
        var imagePort = SiloListeners.Of(Image.Environment, "the silo image").Http.Port;
        var arguments = check.Skip(1).Select(argument => Uri.TryCreate(argument, UriKind.Absolute, out var url) && url.Port == imagePort
            ? new UriBuilder(url) { Port = port }.Uri.ToString()
            : argument).ToList();
        var result = await Tool.ResultOfAsync(published.HostPath(check[0]), arguments);
        output.WriteLine($"health check {string.Join(' ', arguments)}: exit {result.ExitCode}\n{result.Output}{result.Error}");
        return result;
    }
}
