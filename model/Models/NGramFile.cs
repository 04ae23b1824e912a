using System.Buffers.Binary;
using System.Text;

namespace OrleansLm.Model.Models;

/// <summary>
/// The binary n-gram file, little-endian:
/// "OLMNGRAM", version u32, smoothing u8 (0 = counts only), parameter f64, order i32, vocabulary i32;
/// per order k = 1..order: entries i64, then each entry's k ids (i32) and count (i64);
/// last, the 64-bit FNV-1a hash of every byte before it.
/// </summary>
internal static class NGramFile
{
    public const byte CountsOnly = 0;
    private const uint Version = 1;
    private static readonly byte[] Magic = "OLMNGRAM"u8.ToArray();
    private const int HeaderLength = 8 + 4 + 1 + 8 + 4 + 4;
    private const int ChecksumLength = 8;

    /// <summary>Whether the file at <paramref name="path"/> starts like an n-gram file (the rest is checked when it is read).</summary>
    public static bool StartsWithMagic(string path)
    {
        Span<byte> start = stackalloc byte[Magic.Length];
        using var file = File.OpenRead(path);
        return file.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) == start.Length && start.SequenceEqual(Magic);
    }

    /// <summary>Reads <paramref name="path"/> with <paramref name="read"/>; a bad file's error names it.</summary>
    public static T Load<T>(string path, Func<Stream, T> read)
    {
        using var file = File.OpenRead(path);
        try
        {
            return read(file);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{path}: {e.Message}", e);
        }
    }

    public static void Write(Stream stream, NGramCounts counts, byte smoothing, double parameter)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        using (var writer = new BinaryWriter(buffer, Encoding.UTF8, leaveOpen: true))
        {
            writer.Write(Magic);
            writer.Write(Version);
            writer.Write(smoothing);
            writer.Write(parameter);
            writer.Write(counts.Order);
            writer.Write(counts.VocabularySize);
            for (var k = 1; k <= counts.Order; k++)
            {
                var table = counts.Table(k);
                writer.Write((long)table.Count);
                foreach (var (key, count) in table)
                {
                    foreach (var id in NGramCounts.Unpack(key, k)) writer.Write(id);
                    writer.Write(count);
                }
            }
        }
        var payload = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        Span<byte> checksum = stackalloc byte[ChecksumLength];
        BinaryPrimitives.WriteUInt64LittleEndian(checksum, Fnv1a(payload));
        stream.Write(payload);
        stream.Write(checksum);
    }

    public static (NGramCounts Counts, byte Smoothing, double Parameter) Read(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        var bytes = buffer.GetBuffer().AsSpan(0, (int)buffer.Length);
        if (bytes.Length < Magic.Length || !bytes[..Magic.Length].SequenceEqual(Magic))
            throw Invalid("does not start with \"OLMNGRAM\"; it is not an n-gram file");
        if (bytes.Length < HeaderLength + ChecksumLength)
            throw Invalid($"is truncated: {bytes.Length} bytes cannot hold the header and checksum");
        var version = BinaryPrimitives.ReadUInt32LittleEndian(bytes[Magic.Length..]);
        if (version != Version) throw Invalid($"has version {version}; this build reads version {Version}");
        var payload = bytes[..^ChecksumLength];
        if (Fnv1a(payload) != BinaryPrimitives.ReadUInt64LittleEndian(bytes[^ChecksumLength..]))
            throw Invalid("is truncated or corrupt: its checksum does not match its contents");

        using var reader = new BinaryReader(new MemoryStream(payload[(Magic.Length + 4)..].ToArray()));
        try
        {
            var smoothing = reader.ReadByte();
            var parameter = reader.ReadDouble();
            var order = reader.ReadInt32();
            var vocabularySize = reader.ReadInt32();
            if (order is < 1 or > NGramCounts.MaxOrder) throw Invalid($"field 'order' is {order}; expected 1 to {NGramCounts.MaxOrder}");
            if (vocabularySize is < 1 or > NGramCounts.MaxVocabularySize)
                throw Invalid($"field 'vocabulary' is {vocabularySize}; expected 1 to {NGramCounts.MaxVocabularySize}");
            var counts = new NGramCounts(order, vocabularySize);
            var gram = new int[order];
            for (var k = 1; k <= order; k++)
            {
                var entries = reader.ReadInt64();
                var left = reader.BaseStream.Length - reader.BaseStream.Position;
                if (entries < 0 || entries > left / (4L * k + 8))
                    throw Invalid($"field 'entries' of order {k} is {entries}, more than the {left} bytes left can hold");
                for (var e = 0L; e < entries; e++)
                {
                    for (var j = 0; j < k; j++)
                        if ((uint)(gram[j] = reader.ReadInt32()) >= (uint)vocabularySize)
                            throw Invalid($"an order-{k} gram holds token {gram[j]}, outside [0, {vocabularySize})");
                    var count = reader.ReadInt64();
                    if (count < 1) throw Invalid($"an order-{k} gram has count {count}; counts are positive");
                    counts.Set(gram.AsSpan(0, k), count);
                }
            }
            if (reader.BaseStream.Position != reader.BaseStream.Length)
                throw Invalid("has bytes after its last gram");
            return (counts, smoothing, parameter);
        }
        catch (EndOfStreamException e)
        {
            throw new InvalidDataException("n-gram file ends inside a record although its checksum matches", e);
        }
    }

    private static InvalidDataException Invalid(string problem) => new($"n-gram file {problem}");

    private static ulong Fnv1a(ReadOnlySpan<byte> bytes)
    {
        var hash = 14695981039346656037UL;
        foreach (var b in bytes) hash = (hash ^ b) * 1099511628211UL;
        return hash;
    }
}
