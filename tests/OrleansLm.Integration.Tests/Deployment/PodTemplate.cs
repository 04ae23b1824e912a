using System.Text.Json.Nodes;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>A resource that <see cref="PodTemplate"/> names: a ConfigMap, Secret or PersistentVolumeClaim, maybe a key of it.</summary>
/// <param name="Where">Which field of which container or volume names it, for messages.</param>
public sealed record ResourceReference(string Kind, string Name, string? Key, string Where);

/// <summary>The pod template of a workload (spec.template), with what the tests ask of it.</summary>
public sealed class PodTemplate(Manifest workload)
{
    public Manifest Workload { get; } = workload;

    public JsonObject Spec { get; } = workload.At("spec.template.spec").AsObject();

    public IReadOnlyDictionary<string, string> Labels => Manifest.Strings(Workload.Find("spec.template.metadata.labels"));

    public IEnumerable<JsonObject> Containers => Spec["containers"]!.AsArray().Concat(Spec["initContainers"]?.AsArray() ?? []).Select(c => c!.AsObject());

    public JsonObject Container(string name) =>
        Containers.SingleOrDefault(c => NameOf(c) == name) ?? throw new Xunit.Sdk.XunitException($"{Workload} has no container {name}");

    public static string NameOf(JsonNode? named) => named?["name"]?.GetValue<string>() ?? throw new InvalidDataException($"unnamed: {named?.ToJsonString()}");

    /// <summary>Whether the labels <paramref name="selector"/> asks for are all on these pods (an empty selector selects none here).</summary>
    public bool IsSelectedBy(IReadOnlyDictionary<string, string> selector) =>
        selector.Count > 0 && selector.All(label => Labels.TryGetValue(label.Key, out var value) && value == label.Value);

    /// <summary>The containerPort of <paramref name="container"/>'s port named <paramref name="port"/>; null when none has that name.</summary>
    public static int? PortNamed(JsonObject container, string port) =>
        container["ports"]?.AsArray().Where(p => (string?)p!["name"] == port).Select(p => (int?)p!["containerPort"]!.GetValue<long>()).SingleOrDefault();

    /// <summary>"Kind/name container c: field", for messages.</summary>
    public string Describe(JsonObject container, string field) => $"{Workload} container {NameOf(container)}: {field}";

    public JsonObject Volume(string name) =>
        Spec["volumes"]?.AsArray().Select(v => v!.AsObject()).SingleOrDefault(v => NameOf(v) == name)
        ?? throw new Xunit.Sdk.XunitException($"{Workload}: spec.template.spec.volumes has no volume {name}");

    /// <summary>The mount of <paramref name="container"/> whose directory holds <paramref name="path"/> (the deepest one); null when none does.</summary>
    public static JsonObject? MountHolding(JsonObject container, string path) =>
        container["volumeMounts"]?.AsArray().Select(m => m!.AsObject())
            .Where(m => path.StartsWith(m["mountPath"]!.GetValue<string>().TrimEnd('/') + "/", StringComparison.Ordinal))
            .MaxBy(m => m["mountPath"]!.GetValue<string>().Length);

    /// <summary>
    /// The ConfigMap and key that the file at <paramref name="path"/> in <paramref name="container"/> comes from, as the
    /// kubelet lays out a configMap volume (every key a file, or the files its items name); null when no configMap volume
    /// holds the path.
    /// </summary>
    public (string ConfigMap, string Key)? ConfigMapFileAt(JsonObject container, string path)
    {
        if (MountHolding(container, path) is not { } mount) return null;
        var volume = Volume(NameOf(mount));
        if (volume["configMap"] is not JsonObject configMap) return null;
        var file = path[(mount["mountPath"]!.GetValue<string>().TrimEnd('/').Length + 1)..];
        var key = configMap["items"] is JsonArray items
            ? items.Where(i => (string?)i!["path"] == file).Select(i => (string?)i!["key"]).SingleOrDefault()
            : file;
        return key is null ? null : (configMap["name"]!.GetValue<string>(), key);
    }

    /// <summary>Every ConfigMap, Secret (with its key where one is named) and claim the pods need to start.</summary>
    public IEnumerable<ResourceReference> References
    {
        get
        {
            foreach (var container in Containers)
            {
                foreach (var source in container["envFrom"]?.AsArray() ?? [])
                {
                    if (source!["configMapRef"] is { } configMap) yield return new("ConfigMap", NameOf(configMap), null, Describe(container, "envFrom"));
                    if (source["secretRef"] is { } secret) yield return new("Secret", NameOf(secret), null, Describe(container, "envFrom"));
                }
                foreach (var variable in container["env"]?.AsArray() ?? [])
                {
                    var where = Describe(container, $"env {NameOf(variable)}");
                    if (variable!["valueFrom"]?["secretKeyRef"] is { } secret) yield return new("Secret", NameOf(secret), (string?)secret["key"], where);
                    if (variable["valueFrom"]?["configMapKeyRef"] is { } configMap) yield return new("ConfigMap", NameOf(configMap), (string?)configMap["key"], where);
                }
            }
            foreach (var volume in Spec["volumes"]?.AsArray() ?? [])
            {
                var where = $"{Workload}: volume {NameOf(volume)}";
                if (volume!["configMap"] is { } configMap)
                {
                    yield return new("ConfigMap", NameOf(configMap), null, where);
                    foreach (var item in configMap["items"]?.AsArray() ?? []) yield return new("ConfigMap", NameOf(configMap), (string?)item!["key"], where);
                }
                if (volume["secret"] is { } secret) yield return new("Secret", secret["secretName"]!.GetValue<string>(), null, where);
                if (volume["persistentVolumeClaim"] is { } claim) yield return new("PersistentVolumeClaim", claim["claimName"]!.GetValue<string>(), null, where);
            }
        }
    }
}
