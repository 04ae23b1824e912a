using System.Buffers.Binary;

namespace OrleansLm.Runtime.Transport;

/// <summary>
/// The bytes before every chunk (little-endian): kind, request id, the whole message's length and this chunk's
/// length. Every chunk repeats the message length, so the receiver sizes the message from whichever chunk comes first.
/// </summary>
internal readonly record struct FrameHeader(FrameKind Kind, long RequestId, int MessageLength, int ChunkLength)
{
    public const int Size = 1 + 8 + 4 + 4;

    public void Write(Span<byte> destination)
    {
        destination[0] = (byte)Kind;
        BinaryPrimitives.WriteInt64LittleEndian(destination[1..], RequestId);
        BinaryPrimitives.WriteInt32LittleEndian(destination[9..], MessageLength);
        BinaryPrimitives.WriteInt32LittleEndian(destination[13..], ChunkLength);
    }

    public static FrameHeader Read(ReadOnlySpan<byte> source)
    {
        var header = new FrameHeader(
            (FrameKind)source[0],
            BinaryPrimitives.ReadInt64LittleEndian(source[1..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[9..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[13..]));
        if (!Enum.IsDefined(header.Kind))
            throw new InvalidDataException($"unknown frame kind {source[0]}");
        if (header.MessageLength < 0 || header.ChunkLength < 0 || header.ChunkLength > header.MessageLength
            || header.MessageLength > Array.MaxLength)
            throw new InvalidDataException($"frame of request {header.RequestId} has chunk length {header.ChunkLength} " +
                                           $"and message length {header.MessageLength}");
        return header;
    }
}
