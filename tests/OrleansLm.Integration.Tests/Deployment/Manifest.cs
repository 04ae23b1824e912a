using System.Text.Json.Nodes;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>One rendered Kubernetes resource, as a JSON tree (scalars typed as YAML reads them), named "Kind/name".</summary>
public sealed class Manifest(JsonObject tree)
{
    public JsonObject Tree { get; } = tree;

    public string Kind { get; } = tree["kind"]?.GetValue<string>() ?? throw new InvalidDataException($"a rendered resource without kind: {tree.ToJsonString()}");

    public string Name { get; } = tree["metadata"]?["name"]?.GetValue<string>() ?? throw new InvalidDataException($"a rendered {tree["kind"]} without metadata.name");

    public string? Namespace => (string?)Tree["metadata"]?["namespace"];

    /// <summary>metadata.labels; empty when there are none.</summary>
    public IReadOnlyDictionary<string, string> Labels => Strings(Find("metadata.labels"));

    /// <summary>The node at a dotted path ("spec.template.spec"); null when any step is missing.</summary>
    public JsonNode? Find(string path) => path.Split('.').Aggregate((JsonNode?)Tree, (node, step) => node?[step]);

    /// <summary>The node at <paramref name="path"/>; a missing one fails, naming this resource and the path.</summary>
    public JsonNode At(string path) => Find(path) ?? throw new Xunit.Sdk.XunitException($"{this}: {path} is missing");

    public override string ToString() => $"{Kind}/{Name}";

    /// <summary>A mapping of strings (labels, a selector's matchLabels, a ConfigMap's data) as a dictionary.</summary>
    public static IReadOnlyDictionary<string, string> Strings(JsonNode? mapping) =>
        mapping is JsonObject map ? map.ToDictionary(p => p.Key, p => Scalar(p.Value)) : new Dictionary<string, string>();

    /// <summary>A scalar as its text, whatever type YAML gave it (a ConfigMap value "1" and 1 are the same string).</summary>
    public static string Scalar(JsonNode? node) => node switch
    {
        null => "",
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonValue value => value.ToJsonString(),
        _ => throw new Xunit.Sdk.XunitException($"expected a scalar, got {node.ToJsonString()}"),
    };
}
