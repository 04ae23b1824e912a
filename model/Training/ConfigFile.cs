using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace OrleansLm.Model.Training;

/// <summary>A configuration that cannot be used; the message names the offending field.</summary>
public sealed class ConfigException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>A configuration that checks its own values once bound (ranges, combinations).</summary>
public interface IValidatableConfig
{
    /// <summary>Throws <see cref="ConfigException"/> naming the first invalid field.</summary>
    void Validate();
}

/// <summary>
/// Reads YAML (or JSON) configuration into records, strictly: unknown fields, wrong types and
/// missing required fields are errors that name the field's path, so a typo never silently
/// falls back to a default. Field names are snake_case.
/// </summary>
public static class ConfigFile
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        AllowOutOfOrderMetadataProperties = true,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    public static T Load<T>(string path) where T : IValidatableConfig
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"cannot read config {path}: {e.Message}", e);
        }
        return Parse<T>(text, path);
    }

    public static T Parse<T>(string yaml, string source = "config") where T : IValidatableConfig => Bind<T>(ParseTree(yaml, source), source);

    /// <summary>
    /// The YAML (or JSON) document as a JSON tree, scalars typed as <see cref="Parse{T}"/> types them, for a caller that
    /// edits a configuration before binding it (a sweep derives its runs' configs from a base one).
    /// </summary>
    public static JsonObject ParseTree(string yaml, string source = "config")
    {
        JsonNode? tree;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(yaml));
            tree = stream.Documents.Count == 0 ? null : ToJson(stream.Documents[0].RootNode);
        }
        catch (YamlException e)
        {
            throw new ConfigException($"{source}: not valid YAML at line {e.Start.Line}, column {e.Start.Column}: {e.Message}", e);
        }
        return tree as JsonObject ?? throw new ConfigException($"{source}: expected a mapping of fields at the top level");
    }

    /// <summary>Binds and validates a tree as <see cref="Parse{T}"/> does; errors name the field's path in the tree.</summary>
    public static T Bind<T>(JsonObject tree, string source = "config") where T : IValidatableConfig
    {
        T config;
        try
        {
            config = tree.Deserialize<T>(Options) ?? throw new ConfigException($"{source}: empty configuration");
        }
        catch (JsonException e)
        {
            throw new ConfigException($"{source}: {Describe(e)}", e);
        }
        config.Validate();
        return config;
    }

    /// <summary>The configuration as JSON in the same snake_case schema, e.g. to store beside a checkpoint.</summary>
    public static string ToJson<T>(T config) => JsonSerializer.Serialize(config, Options);

    /// <summary>Reads what <see cref="ToJson"/> wrote, as strictly as <see cref="Parse"/>.</summary>
    public static T FromJson<T>(string json, string source) where T : IValidatableConfig => Parse<T>(json, source);

    /// <summary>Throws a <see cref="ConfigException"/> for <paramref name="field"/> unless <paramref name="valid"/>.</summary>
    public static void Require(bool valid, string field, string rule)
    {
        if (!valid) throw new ConfigException($"{field}: {rule}");
    }

    // System.Text.Json reports "$.optimizer.lr" style paths and type names; say it in config terms.
    private static string Describe(JsonException e)
    {
        var path = e.Path is { Length: > 2 } p ? p[2..] : "";
        if (e.Message.Contains("could not be mapped", StringComparison.Ordinal)) return $"unknown field '{path}'";
        if (e.Message.Contains("missing required properties", StringComparison.Ordinal))
        {
            var names = e.Message[(e.Message.IndexOf("including:", StringComparison.Ordinal) + "including:".Length)..].Trim().TrimEnd('.');
            return $"missing required field {names}" + (path.Length > 0 ? $" in '{path}'" : "");
        }
        if (e.Message.Contains("could not be converted", StringComparison.Ordinal))
            return $"field '{path}' has a value of the wrong type (or an unknown option)";
        return $"field '{path}': {e.Message}";
    }

    // YAML scalars are untyped; plain scalars that read as numbers or booleans become JSON numbers or
    // booleans, quoted ones stay strings, so "lr: 3e-4" binds to a double and "name: '42'" to a string.
    private static JsonNode? ToJson(YamlNode node) => node switch
    {
        YamlMappingNode map => new JsonObject(map.Children.Select(p =>
            KeyValuePair.Create(((YamlScalarNode)p.Key).Value ?? "", ToJson(p.Value)))),
        YamlSequenceNode list => new JsonArray(list.Children.Select(ToJson).ToArray()),
        YamlScalarNode scalar => Scalar(scalar),
        _ => throw new ConfigException($"unsupported YAML node at line {node.Start.Line}"),
    };

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? "";
        if (scalar.Style is ScalarStyle.SingleQuoted or ScalarStyle.DoubleQuoted) return JsonValue.Create(value);
        if (value is "" or "~" or "null") return null;
        if (value is "true" or "false") return JsonValue.Create(value == "true");
        if (long.TryParse(value, System.Globalization.NumberStyles.AllowLeadingSign, System.Globalization.CultureInfo.InvariantCulture, out var integer))
            return JsonValue.Create(integer);
        if (double.TryParse(value, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var real))
            return JsonValue.Create(real);
        return JsonValue.Create(value);
    }
}
