using System.Globalization;
using System.Text.Json.Nodes;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>What the cpu and gpu overlays give the silos: resources, the devices the silo offers, placement, the image.</summary>
public class KustomizeHardwareTests
{
    private const string Gpu = "nvidia.com/gpu";

    [Fact]
    public async Task CpuSilosOfferOneDeviceAndRunAThreadPerRequestedCore()
    {
        var silo = await SiloDeployment.RenderAsync("overlays/cpu");
        var resources = silo.Container["resources"];

        silo.Manifests.PodTemplates.SelectMany(p => p.Containers).Should().NotContain(c => RequestsGpus(c), "the cpu overlay asks for no GPU");
        silo.Setting("Cluster:Devices").Should().Be("1", "a CPU silo is one device: one worker grain");
        (resources?["requests"]?["cpu"]).Should().NotBeNull($"{silo.Pod.Describe(silo.Container, "resources.requests.cpu")}");
        var cores = Cores(resources!["requests"]!["cpu"]!);
        cores.Should().BeGreaterThanOrEqualTo(1, $"{silo.Pod.Describe(silo.Container, "resources.requests.cpu")}: whole cores for libtorch");
        int.Parse(silo.Setting("Silo:TorchThreads")).Should().Be((int)cores,
            "Silo:TorchThreads is the CPU request: libtorch's default, the node's cores, would oversubscribe a shared node");
        SiloDeployment.SplitImage(silo.Container).Tag.Should().NotEndWith("-cuda");
    }

    [Fact]
    public async Task GpuSilosOfferTheirGpusOnGpuNodesWithTheCudaImage()
    {
        var gpu = await SiloDeployment.RenderAsync("overlays/gpu");
        var cpu = await SiloDeployment.RenderAsync("overlays/cpu");

        var gpus = gpu.Container["resources"]?["limits"]?[Gpu]?.GetValue<long>();
        gpus.Should().BeGreaterThanOrEqualTo(1, $"{gpu.Pod.Describe(gpu.Container, $"resources.limits.{Gpu}")}");
        gpu.Setting("Cluster:Devices").Should().Be(gpus.ToString(), $"Cluster:Devices offers the workers each GPU of the {Gpu} limit, and no more");
        Manifest.Strings(gpu.Pod.Spec["nodeSelector"]).Should().Contain($"{Gpu}.present", "true",
            $"{gpu.Pod.Workload}: spec.template.spec.nodeSelector keeps the silos on GPU nodes");
        (gpu.Pod.Spec["tolerations"]?.AsArray() ?? []).Should().Contain(t => Tolerates(t!, Gpu, "NoSchedule"),
            $"{gpu.Pod.Workload}: spec.template.spec.tolerations must let the silos onto nodes tainted {Gpu}:NoSchedule");
        gpu.Manifests.PodTemplates.Where(p => p.Workload != gpu.Pod.Workload).SelectMany(p => p.Containers)
            .Should().NotContain(c => RequestsGpus(c), "only the silos need GPUs");

        var (repository, tag) = SiloDeployment.SplitImage(gpu.Container);
        var (cpuRepository, cpuTag) = SiloDeployment.SplitImage(cpu.Container);
        repository.Should().Be(cpuRepository);
        tag.Should().Be(cpuTag + "-cuda", "the gpu overlay runs the CUDA build of the cpu overlay's silo release");
    }

    private static bool RequestsGpus(JsonObject container) => container["resources"]?["limits"]?[Gpu] is not null;

    /// <summary>Whether a toleration lets a pod onto a node with taint <paramref name="key"/>:<paramref name="effect"/> (whatever its value).</summary>
    private static bool Tolerates(JsonNode toleration, string key, string effect) =>
        ((string?)toleration["key"] ?? key) == key
        && ((string?)toleration["operator"] ?? "Equal") == "Exists"
        && ((string?)toleration["effect"] ?? effect) == effect;

    /// <summary>A CPU quantity ("4", "500m") in cores.</summary>
    private static double Cores(JsonNode quantity)
    {
        var text = Manifest.Scalar(quantity);
        return text.EndsWith('m') ? double.Parse(text[..^1], CultureInfo.InvariantCulture) / 1000 : double.Parse(text, CultureInfo.InvariantCulture);
    }
}
