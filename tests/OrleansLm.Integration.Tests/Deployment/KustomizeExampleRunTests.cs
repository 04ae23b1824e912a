using System.CommandLine;
using System.Text.Json.Nodes;
using OrleansLm.Cli;
using OrleansLm.Model.Training;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// k8s/example-run's Job applied beside an overlay: its olm command line as the CLI parses it, the gateway and token
/// it uses, and its run.yaml as the gateway reads it, with a corpus the silos can read.
/// </summary>
public class KustomizeExampleRunTests
{
    private const string Variant = "overlays/cpu+example-run";
    private const string ClientImage = "orleanslm/client";

    [Fact]
    public async Task JobStartsARunThroughTheGatewayServiceWithTheAdminToken()
    {
        var (silo, job, container, command) = await ExampleAsync();

        command.CommandResult.Command.Name.Should().Be("start", $"{job.Describe(container, "args")} is olm run start");
        var environment = ContainerEnvironment.Resolve(silo.Manifests, job, container, ContainerEnvironment.SampleSecret);
        var address = new Uri(command.GetValue<string?>("--gateway") ?? environment.GetValueOrDefault("OLM_GATEWAY") ?? "");
        var service = silo.Manifests.Single("Service", address.Host.Split('.')[0]);
        silo.Services.Should().Contain(service, $"{job.Describe(container, "args")}: --gateway {address} must lead to the silos");
        Manifest.Scalar(service.Find("spec.clusterIP")).Should().NotBe("None", $"{job.Describe(container, "args")}: --gateway {address} balances over the ready silos");
        var port = service.At("spec.ports").AsArray().SingleOrDefault(p => p!["port"]!.GetValue<long>() == address.Port);
        port.Should().NotBeNull($"{job.Describe(container, "args")}: --gateway port {address.Port} must be a port of {service}");
        Manifest.Scalar(port!["targetPort"]).Should().Be("gateway", $"{service}: port {address.Port} must lead to the silos' gateway");
        if (address.Host.Contains('.')) address.Host.Split('.')[1].Should().Be(job.Workload.Namespace, "--gateway names the Service in the Job's namespace");

        // olm takes $OLM_TOKEN when no --token is given, which keeps the token out of the process list.
        var token = command.GetValue<string?>("--token") is { } argument ? ContainerEnvironment.Expand(argument, environment) : environment.GetValueOrDefault("OLM_TOKEN");
        token.Should().Be(silo.Setting("Gateway:AdminToken"), $"{job.Describe(container, "env")}: the token olm presents is the silos' admin token (from the same Secret key)");
        job.Workload.Namespace.Should().Be(silo.Pod.Workload.Namespace, $"{job.Workload} runs in the silos' namespace");
    }

    [Fact]
    public async Task JobRunsTheClientOfTheSilosRelease()
    {
        var (silo, job, container, _) = await ExampleAsync();

        SiloDeployment.SplitImage(container).Should().Be((ClientImage, SiloDeployment.SplitImage(silo.Container).Tag), $"{job.Describe(container, "image")}");
        (job.Workload.Find("spec.template.spec.restartPolicy")?.GetValue<string>()).Should().Be("Never",
            $"{job.Workload}: a failed start is retried by a new pod (backoffLimit), whose logs stay apart");
    }

    [Fact]
    public async Task RunConfigParsesAsTheGatewayReadsItAndFitsTheCluster()
    {
        var (silo, job, container, command) = await ExampleAsync();

        var config = RunConfigOf(silo, job, container, command);
        var workers = command.GetValue<int>("--workers");
        var devices = silo.Pod.Workload.At("spec.replicas").GetValue<long>() * int.Parse(silo.Setting("Cluster:Devices"));

        (config.Data.BatchSize % workers).Should().Be(0, $"data.batch_size {config.Data.BatchSize} must divide by --workers {workers}");
        workers.Should().BeLessThanOrEqualTo((int)devices, $"each of --workers {workers} needs a device; {silo.Pod.Workload}'s silos offer {devices}");
        command.GetValue<int>("--parameter-servers").Should().BeGreaterThanOrEqualTo(1);
    }

    [Fact]
    public async Task RunCorpusIsAFileEverySiloMountsAndHoldsEnoughTokens()
    {
        var (silo, job, container, command) = await ExampleAsync();
        var config = RunConfigOf(silo, job, container, command);

        var text = MountedFile(silo.Manifests, silo.Pod, silo.Container, config.Data.Path, "data.path");
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, text);
            var (_, corpus) = TrainingRun.LoadData(config.Data with { Path = file });
            // What a worker does with it: windows of block_size + 1 tokens of both splits (fails naming data.block_size).
            TrainingRun.BatchSources(config, corpus);
            corpus.Train.Length.Should().BeGreaterThan(config.Data.BatchSize * (config.Data.BlockSize + 1), "a batch of distinct windows");
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task<(SiloDeployment Silo, PodTemplate Job, JsonObject Container, ParseResult Command)> ExampleAsync()
    {
        var silo = await SiloDeployment.RenderAsync(Variant);
        var job = silo.Manifests.OfKind("Job").Select(j => new PodTemplate(j)).Should().ContainSingle($"{Variant} renders the example Job").Subject;
        var container = job.Containers.Should().ContainSingle(c => SiloDeployment.ImageRepository(c) == ClientImage, $"{job.Workload} runs olm").Subject;
        container["command"].Should().BeNull($"{job.Describe(container, "command")}: the client image's entrypoint is olm");
        var args = container["args"]!.AsArray().Select(Manifest.Scalar).ToArray();
        var command = new RootCommand { RunCommand.Create() }.Parse(args);
        command.Errors.Select(e => e.Message).Should().BeEmpty($"{job.Describe(container, "args")} [{string.Join(' ', args)}] must parse as olm parses it");
        return (silo, job, container, command);
    }

    private static RunConfig RunConfigOf(SiloDeployment silo, PodTemplate job, JsonObject container, ParseResult command)
    {
        var path = command.GetValue<FileInfo?>("--config")?.ToString();
        path.Should().NotBeNull($"{job.Describe(container, "args")}: --config, or the run is the built-in one on a corpus the image may lack");
        return ConfigFile.Parse<RunConfig>(MountedFile(silo.Manifests, job, container, path!, "--config"), "config");
    }

    /// <summary>The content of the file at <paramref name="path"/> in <paramref name="container"/>, from the ConfigMap key behind it.</summary>
    private static string MountedFile(RenderedManifests manifests, PodTemplate pod, JsonObject container, string path, string what)
    {
        var file = pod.ConfigMapFileAt(container, path);
        file.Should().NotBeNull($"{pod.Describe(container, "volumeMounts")}: {what} {path} must be a file from a ConfigMap volume");
        var data = Manifest.Strings(manifests.Single("ConfigMap", file!.Value.ConfigMap).Find("data"));
        data.Should().ContainKey(file.Value.Key, $"ConfigMap/{file.Value.ConfigMap} backs {what} {path}");
        return data[file.Value.Key];
    }
}
