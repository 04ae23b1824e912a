using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansLm.Model.Text;

/// <summary>Reads tokenizer JSON field by field, so every malformed file is reported by the field at fault.</summary>
internal static class TokenizerJson
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static string Write(JsonObject root) => root.ToJsonString(Indented);

    public static JsonObject Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"tokenizer JSON is not valid JSON: {e.Message}", e);
        }
        return node as JsonObject ?? throw new InvalidDataException("tokenizer JSON must be an object with a 'kind' field");
    }

    public static string RequireString(JsonObject root, string field) =>
        AsString(Require(root, field), field);

    public static bool OptionalBool(JsonObject root, string field, bool fallback)
    {
        var node = root[field];
        if (node is null) return fallback;
        return node is JsonValue value && value.TryGetValue<bool>(out var flag)
            ? flag
            : throw Invalid(field, "must be true or false");
    }

    public static string[] RequireStringArray(JsonObject root, string field) =>
        RequireArray(root, field).Select((node, i) => AsString(node, $"{field}[{i}]")).ToArray();

    public static JsonArray RequireArray(JsonObject root, string field) =>
        Require(root, field) as JsonArray ?? throw Invalid(field, "must be an array");

    public static int AsInt(JsonNode? node, string field) =>
        node is JsonValue value && value.TryGetValue<int>(out var number)
            ? number
            : throw Invalid(field, "must be an integer");

    public static InvalidDataException Invalid(string field, string problem) =>
        new($"tokenizer JSON: field '{field}' {problem}");

    private static JsonNode Require(JsonObject root, string field) =>
        root[field] ?? throw Invalid(field, "is missing");

    private static string AsString(JsonNode? node, string field) =>
        node is JsonValue value && value.TryGetValue<string>(out var text)
            ? text
            : throw Invalid(field, "must be a string");
}
