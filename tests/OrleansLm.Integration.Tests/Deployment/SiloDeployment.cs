using System.Text.Json.Nodes;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>
/// The silos of a rendered variant: the StatefulSet that runs the silo image, its silo container, and the configuration
/// its environment gives the silo, with sample pod fields and Secret values (<see cref="ContainerEnvironment"/>).
/// </summary>
public sealed class SiloDeployment
{
    public const string Image = "orleanslm/silo";

    public SiloDeployment(RenderedManifests manifests)
    {
        Manifests = manifests;
        var silos = manifests.PodTemplates.Where(p => p.Containers.Any(c => ImageRepository(c) == Image)).ToList();
        silos.Should().ContainSingle($"{manifests} runs the silo image {Image} in one workload");
        Pod = silos[0];
        Container = Pod.Containers.Single(c => ImageRepository(c) == Image);
        Environment = ContainerEnvironment.Resolve(manifests, Pod, Container, ContainerEnvironment.SampleSecret);
    }

    public static async Task<SiloDeployment> RenderAsync(string variant) => new(await Kustomize.RenderAsync(variant));

    public RenderedManifests Manifests { get; }

    public PodTemplate Pod { get; }

    public JsonObject Container { get; }

    /// <summary>The silo container's environment with sample Secret values.</summary>
    public IReadOnlyDictionary<string, string> Environment { get; }

    /// <summary>The value the environment gives configuration key <paramref name="key"/> ("Cluster:Listen"); fails naming it when none does.</summary>
    public string Setting(string key) => FindSetting(key) ?? throw new Xunit.Sdk.XunitException(
        $"{Pod.Describe(Container, "env")}: nothing sets {key} (as {SiloConfiguration.VariableOf(key)})");

    public string? FindSetting(string key) => Environment
        .Where(variable => string.Equals(SiloConfiguration.KeyOf(variable.Key), key, StringComparison.OrdinalIgnoreCase))
        .Select(variable => variable.Value)
        .SingleOrDefault();

    public int ContainerPort(string name) =>
        PodTemplate.PortNamed(Container, name) ?? throw new Xunit.Sdk.XunitException($"{Pod.Describe(Container, "ports")}: no port named {name}");

    /// <summary>The Services whose selector picks the silo pods.</summary>
    public IEnumerable<Manifest> Services => Manifests.OfKind("Service").Where(s => Pod.IsSelectedBy(Manifest.Strings(s.Find("spec.selector"))));

    /// <summary>"orleanslm/silo" of "orleanslm/silo:0.1.0".</summary>
    public static string ImageRepository(JsonObject container) => SplitImage(container).Repository;

    public static (string Repository, string Tag) SplitImage(JsonObject container)
    {
        var image = container["image"]!.GetValue<string>();
        var colon = image.LastIndexOf(':');
        return colon > image.LastIndexOf('/') ? (image[..colon], image[(colon + 1)..]) : (image, "latest");
    }
}
