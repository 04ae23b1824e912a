using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Invocation;

namespace OrleansLm.Runtime.Cluster;

/// <summary>
/// The envelope of requests between silos, <c>[kind][body]</c>, and the bodies of directory requests and replies.
/// Directory request: grain type, grain key, silo (register and unregister). Reply: a not-owner flag, then the
/// silo or nothing. Recovery request: the ring's members; reply: grain ids.
/// </summary>
internal static class ClusterMessages
{
    private const byte Owner = 0;
    private const byte NotOwner = 1;

    /// <summary>Splits a request into its kind and body; throws <see cref="FormatException"/> on an empty or unknown one.</summary>
    public static (ClusterMessageKind Kind, ReadOnlyMemory<byte> Body) Open(ReadOnlyMemory<byte> request)
    {
        if (request.IsEmpty) throw new FormatException("an empty request carries no message kind");
        var kind = (ClusterMessageKind)request.Span[0];
        if (!Enum.IsDefined(kind)) throw new FormatException($"unknown cluster message kind {request.Span[0]}");
        return (kind, request[1..]);
    }

    public static ReadOnlyMemory<byte> DirectoryRequest(ClusterMessageKind kind, GrainId grainId, SiloAddress? silo)
    {
        var writer = new CodecWriter(64);
        writer.Byte((byte)kind);
        writer.String(grainId.Type);
        writer.String(grainId.Key);
        writer.NullableString(silo?.ToString());
        return writer.Written;
    }

    public static (GrainId GrainId, SiloAddress? Silo) ReadDirectoryRequest(ReadOnlySpan<byte> body)
    {
        var reader = new CodecReader(body);
        var grainId = GrainId.Create(reader.String(), reader.String());
        var silo = reader.NullableString() is { } text ? SiloAddress.Parse(text) : null;
        return (grainId, silo);
    }

    public static ReadOnlyMemory<byte> Encode(DirectoryReply reply)
    {
        var writer = new CodecWriter(64);
        writer.Byte(reply.NotOwner ? NotOwner : Owner);
        writer.NullableString(reply.Silo?.ToString());
        return writer.Written;
    }

    public static DirectoryReply DecodeDirectoryReply(ReadOnlySpan<byte> response)
    {
        var reader = new CodecReader(response);
        var notOwner = reader.Byte() switch
        {
            Owner => false,
            NotOwner => true,
            var flag => throw new FormatException($"directory reply has unknown flag {flag}"),
        };
        return new DirectoryReply(notOwner, reader.NullableString() is { } text ? SiloAddress.Parse(text) : null);
    }

    public static ReadOnlyMemory<byte> RecoveryRequest(IReadOnlyList<SiloAddress> ringMembers)
    {
        var writer = new CodecWriter(64);
        writer.Byte((byte)ClusterMessageKind.DirectoryRecover);
        writer.Int32(ringMembers.Count);
        foreach (var member in ringMembers)
            writer.String(member.ToString());
        return writer.Written;
    }

    public static IReadOnlyList<SiloAddress> ReadRecoveryRequest(ReadOnlySpan<byte> body)
    {
        var reader = new CodecReader(body);
        return ReadList(ref reader, (ref CodecReader r) => SiloAddress.Parse(r.String()));
    }

    public static ReadOnlyMemory<byte> EncodeGrainIds(IReadOnlyList<GrainId> grainIds)
    {
        var writer = new CodecWriter(64);
        writer.Int32(grainIds.Count);
        foreach (var grainId in grainIds)
        {
            writer.String(grainId.Type);
            writer.String(grainId.Key);
        }
        return writer.Written;
    }

    public static IReadOnlyList<GrainId> DecodeGrainIds(ReadOnlySpan<byte> response)
    {
        var reader = new CodecReader(response);
        return ReadList(ref reader, (ref CodecReader r) => GrainId.Create(r.String(), r.String()));
    }

    private delegate T ItemReader<out T>(ref CodecReader reader);

    private static List<T> ReadList<T>(ref CodecReader reader, ItemReader<T> item)
    {
        var count = reader.Int32();
        if (count < 0) throw new FormatException($"a list cannot have {count} items");
        var items = new List<T>(Math.Min(count, 4096));
        for (var i = 0; i < count; i++)
            items.Add(item(ref reader));
        return items;
    }
}
