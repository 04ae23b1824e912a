using System.Collections;
using System.Text.Json.Nodes;
using Google.Protobuf;

namespace OrleansLm.Cli;

/// <summary>--json output: one JSON object per line, snake_case names, no markup.</summary>
internal static class JsonLines
{
    public static void Write(JsonObject line) => Console.WriteLine(line.ToJsonString());

    /// <summary>Writes <paramref name="message"/> (see <see cref="From"/>), after <paramref name="leading"/> properties.</summary>
    public static void Write(IMessage message, params (string Name, JsonNode? Value)[] leading)
    {
        var line = From(message);
        for (var i = 0; i < leading.Length; i++) line.Insert(i, leading[i].Name, leading[i].Value);
        Write(line);
    }

    /// <summary>
    /// A message as JSON for scripts: its proto field names (already snake_case), numbers as numbers (int64 too,
    /// unlike protobuf's JSON mapping), enum values by their snake_case C# names (RUN_STATE_RUNNING is "running"),
    /// NaN and infinities as null, unset optional fields left out.
    /// </summary>
    public static JsonObject From(IMessage message)
    {
        var json = new JsonObject();
        foreach (var field in message.Descriptor.Fields.InDeclarationOrder())
        {
            if (field.HasPresence && !field.Accessor.HasValue(message)) continue;
            json[field.Name] = Value(field.Accessor.GetValue(message));
        }
        return json;
    }

    private static JsonNode? Value(object? value) => value switch
    {
        null => null,
        IMessage message => From(message),
        IDictionary map => new JsonObject(map.Keys.Cast<object>().Select(key => KeyValuePair.Create(key.ToString()!, Value(map[key])))),
        IList list => new JsonArray(list.Cast<object?>().Select(Value).ToArray()),
        double number => double.IsFinite(number) ? JsonValue.Create(number) : null,
        float number => float.IsFinite(number) ? JsonValue.Create(number) : null,
        Enum name => JsonValue.Create(Cli.Name(name)),
        ByteString bytes => JsonValue.Create(bytes.ToBase64()),
        string text => JsonValue.Create(text),
        bool flag => JsonValue.Create(flag),
        int number => JsonValue.Create(number),
        long number => JsonValue.Create(number),
        uint number => JsonValue.Create(number),
        ulong number => JsonValue.Create(number),
        _ => throw new NotSupportedException($"no JSON form for a field of type {value.GetType()}"),
    };
}
