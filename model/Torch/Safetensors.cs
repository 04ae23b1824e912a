using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansLm.Model.IO;

namespace OrleansLm.Model.Torch;

/// <summary>Tensors and string metadata read from a safetensors file.</summary>
public sealed class SafetensorsContent(IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata) : IDisposable
{
    public IReadOnlyDictionary<string, Tensor> Tensors { get; } = tensors;

    public IReadOnlyDictionary<string, string> Metadata { get; } = metadata;

    public void Dispose()
    {
        foreach (var tensor in Tensors.Values) tensor.Dispose();
    }
}

/// <summary>
/// The safetensors format (Hugging Face): an 8-byte little-endian header length N, N bytes of JSON
/// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the
/// tensors' bytes. Writes are atomic; reads validate every offset, so a truncated or corrupt file is
/// refused with a message instead of yielding garbage.
/// </summary>
public static class Safetensors
{
    private const string MetadataKey = "__metadata__";
    private const long MaxHeaderBytes = 100L * 1024 * 1024;

    private static readonly Dictionary<ScalarType, string> DTypeNames = new()
    {
        [ScalarType.Float64] = "F64", [ScalarType.Float32] = "F32", [ScalarType.Float16] = "F16",
        [ScalarType.BFloat16] = "BF16", [ScalarType.Int64] = "I64", [ScalarType.Int32] = "I32",
        [ScalarType.Byte] = "U8", [ScalarType.Bool] = "BOOL",
    };

    private static readonly Dictionary<string, ScalarType> DTypesByName = DTypeNames.ToDictionary(p => p.Value, p => p.Key);

    /// <summary>
    /// Writes <paramref name="tensors"/> (from any device) to <paramref name="path"/> atomically: a temporary
    /// file beside it is written and flushed to disk, then renamed over the target.
    /// </summary>
    public static void Save(string path, IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var header = new JsonObject();
        if (metadata is { Count: > 0 })
            header[MetadataKey] = new JsonObject(metadata.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)p.Value)));
        var payloads = new List<byte[]>(tensors.Count);
        long offset = 0;
        foreach (var (name, tensor) in tensors.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            if (name == MetadataKey) throw new ArgumentException($"'{MetadataKey}' is reserved and cannot name a tensor", nameof(tensors));
            if (!DTypeNames.TryGetValue(tensor.DType, out var dtype))
                throw new ArgumentException($"tensor '{name}' has dtype {tensor.DType}, which safetensors cannot hold", nameof(tensors));
            var bytes = tensor.ToBytes();
            payloads.Add(bytes);
            header[name] = new JsonObject
            {
                ["dtype"] = dtype,
                ["shape"] = new JsonArray(tensor.Shape.Select(s => (JsonNode?)s).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            offset += bytes.Length;
        }

        // The format recommends padding the header with spaces so the data starts 8-byte aligned.
        var json = Encoding.UTF8.GetBytes(header.ToJsonString());
        var padded = (json.Length + 7) / 8 * 8;
        AtomicFile.Write(path, file =>
        {
            Span<byte> length = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)padded);
            file.Write(length);
            file.Write(json);
            for (var i = json.Length; i < padded; i++) file.WriteByte((byte)' ');
            foreach (var payload in payloads) file.Write(payload);
        });
    }

    /// <summary>Reads a safetensors file into CPU tensors; throws <see cref="InvalidDataException"/> naming what is wrong.</summary>
    public static SafetensorsContent Load(string path)
    {
        var bytes = File.ReadAllBytes(path);
        if (bytes.Length < 8) throw Corrupt(path, $"it has {bytes.Length} bytes, fewer than the 8-byte header length");
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        if (headerLength > MaxHeaderBytes || 8 + (long)headerLength > bytes.Length)
            throw Corrupt(path, $"the header claims {headerLength} bytes but the file has {bytes.Length - 8} after the length (truncated?)");
        var data = bytes.AsMemory(8 + (int)headerLength);

        JsonObject header;
        try
        {
            header = JsonNode.Parse(bytes.AsSpan(8, (int)headerLength)) as JsonObject
                     ?? throw Corrupt(path, "the header is not a JSON object");
        }
        catch (JsonException e)
        {
            throw Corrupt(path, $"the header is not valid JSON: {e.Message}");
        }

        var metadata = new Dictionary<string, string>();
        var tensors = new Dictionary<string, Tensor>();
        var extents = new List<(long Begin, long End, string Name)>();
        try
        {
            foreach (var (name, node) in header)
            {
                if (name == MetadataKey)
                {
                    foreach (var (key, value) in node as JsonObject ?? throw Corrupt(path, $"'{MetadataKey}' is not an object"))
                        metadata[key] = value is JsonValue v && v.TryGetValue<string>(out var text)
                            ? text
                            : throw Corrupt(path, $"metadata '{key}' is not a string");
                    continue;
                }
                var (dtype, shape, begin, end) = ParseEntry(path, name, node);
                if (begin > end || end > data.Length)
                    throw Corrupt(path, $"tensor '{name}' spans bytes [{begin}, {end}) but the data section has {data.Length} (truncated?)");
                extents.Add((begin, end, name));
                tensors[name] = Tensor.FromBytes(data.Span[(int)begin..(int)end], shape, dtype).DetachFromDisposeScope();
            }
            CheckExtentsTile(path, extents, data.Length);
        }
        catch
        {
            foreach (var tensor in tensors.Values) tensor.Dispose();
            throw;
        }
        return new SafetensorsContent(tensors, metadata);
    }

    private static (ScalarType DType, long[] Shape, long Begin, long End) ParseEntry(string path, string name, JsonNode? node)
    {
        try
        {
            var entry = node as JsonObject ?? throw Corrupt(path, $"tensor '{name}' is not an object");
            var dtypeName = entry["dtype"]?.GetValue<string>() ?? throw Corrupt(path, $"tensor '{name}' has no dtype");
            if (!DTypesByName.TryGetValue(dtypeName, out var dtype))
                throw Corrupt(path, $"tensor '{name}' has unsupported dtype '{dtypeName}'");
            var shape = (entry["shape"] as JsonArray ?? throw Corrupt(path, $"tensor '{name}' has no shape"))
                .Select(s => s!.GetValue<long>()).ToArray();
            if (shape.Any(s => s < 0)) throw Corrupt(path, $"tensor '{name}' has a negative dimension");
            var offsets = entry["data_offsets"] as JsonArray;
            if (offsets is not { Count: 2 }) throw Corrupt(path, $"tensor '{name}' needs data_offsets [begin, end]");
            long begin = offsets[0]!.GetValue<long>(), end = offsets[1]!.GetValue<long>();
            var expected = shape.Aggregate((long)ScalarTypes.ElementSize(dtype), (a, b) => a * b);
            if (end - begin != expected)
                throw Corrupt(path, $"tensor '{name}' ({dtypeName} [{string.Join(", ", shape)}]) needs {expected} bytes but its offsets span {end - begin}");
            return (dtype, shape, begin, end);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
        {
            throw Corrupt(path, $"tensor '{name}' has a malformed entry: {e.Message}");
        }
    }

    // The data section must be covered exactly, without overlaps or holes, as the format requires.
    private static void CheckExtentsTile(string path, List<(long Begin, long End, string Name)> extents, long dataLength)
    {
        long cursor = 0;
        foreach (var (begin, end, name) in extents.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (begin != cursor) throw Corrupt(path, $"tensor '{name}' starts at byte {begin}, expected {cursor} (overlap or hole)");
            cursor = end;
        }
        if (cursor != dataLength) throw Corrupt(path, $"the data section has {dataLength} bytes but the tensors cover {cursor}");
    }

    private static InvalidDataException Corrupt(string path, string reason) => new($"{path} is not a valid safetensors file: {reason}");
}
