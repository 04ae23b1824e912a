using OrleansLm.Model.Training;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>What <c>kubectl kustomize</c> printed: its resources, looked up by kind and name.</summary>
public sealed class RenderedManifests
{
    private RenderedManifests(string source, IReadOnlyList<Manifest> all) => (Source, All) = (source, all);

    /// <summary>What was rendered ("overlays/cpu"), for messages.</summary>
    public string Source { get; }

    public IReadOnlyList<Manifest> All { get; }

    /// <summary>
    /// The documents of kustomize's output. Each is read as run configs are (<see cref="ConfigFile.ParseTree"/>): plain
    /// scalars typed, quoted ones strings. kustomize separates documents with a line "---" that a block scalar, being
    /// indented, never holds.
    /// </summary>
    public static RenderedManifests Parse(string yaml, string source) => new(source, yaml
        .Split("\n---\n")
        .Where(document => !string.IsNullOrWhiteSpace(document))
        .Select((document, index) => new Manifest(ConfigFile.ParseTree(document, $"{source}, document {index}")))
        .ToList());

    public IEnumerable<Manifest> OfKind(string kind) => All.Where(m => m.Kind == kind);

    public Manifest? Find(string kind, string name) => All.SingleOrDefault(m => m.Kind == kind && m.Name == name);

    /// <summary>The resource <paramref name="kind"/>/<paramref name="name"/>; a missing one fails, naming what was rendered.</summary>
    public Manifest Single(string kind, string name) =>
        Find(kind, name) ?? throw new Xunit.Sdk.XunitException(
            $"{Source} renders no {kind}/{name}; it renders {string.Join(", ", All)}");

    /// <summary>Every workload's pod template (StatefulSets, Deployments, Jobs...).</summary>
    public IEnumerable<PodTemplate> PodTemplates => All.Where(m => m.Find("spec.template.spec.containers") is not null).Select(m => new PodTemplate(m));

    public PodTemplate PodTemplateOf(string kind, string name) => new(Single(kind, name));

    /// <summary>The value of <paramref name="key"/> in a Secret's stringData or (base64) data; null when it has no such key.</summary>
    public string? SecretValue(string secret, string key)
    {
        var manifest = Find("Secret", secret);
        if (manifest?.Find("stringData")?[key] is { } text) return Manifest.Scalar(text);
        return manifest?.Find("data")?[key] is { } encoded ? System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(Manifest.Scalar(encoded))) : null;
    }

    public override string ToString() => Source;
}
