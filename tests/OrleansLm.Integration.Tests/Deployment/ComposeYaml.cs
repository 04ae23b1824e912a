using YamlDotNet.RepresentationModel;

namespace OrleansLm.Integration.Tests.Deployment;

/// <summary>Reading YAML nodes of the compose and Prometheus files, each failure naming the node it met.</summary>
public static class ComposeYaml
{
    public static YamlMappingNode Mapping(this YamlNode node) =>
        node as YamlMappingNode ?? throw new FormatException($"expected a mapping at {node.Start}, found {node.NodeType}: {node}");

    public static YamlSequenceNode Sequence(this YamlNode node) =>
        node as YamlSequenceNode ?? throw new FormatException($"expected a sequence at {node.Start}, found {node.NodeType}: {node}");

    public static string Scalar(this YamlNode node) =>
        (node as YamlScalarNode)?.Value ?? throw new FormatException($"expected a scalar at {node.Start}, found {node.NodeType}: {node}");

    public static YamlNode Child(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(key, out var child) ? child : throw new KeyNotFoundException($"no '{key}' in the mapping at {node.Start}: {node}");

    public static YamlNode? ChildOrNull(this YamlMappingNode node, string key) => node.Children.TryGetValue(key, out var child) ? child : null;

    /// <summary>A sequence of scalars, or a lone scalar as a sequence of one.</summary>
    public static IReadOnlyList<string> Scalars(this YamlNode node) =>
        node is YamlScalarNode scalar ? [scalar.Scalar()] : node.Sequence().Children.Select(Scalar).ToList();
}
