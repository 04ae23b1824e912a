using System.Buffers.Binary;
using System.IO.Compression;
using Google.Protobuf;

namespace OrleansLm.Protos.Grpc;

/// <summary>
/// gRPC's length-prefixed messages: a compressed flag byte, a 4-byte big-endian length, then the payload (gzip when
/// the flag is 1). The server reads requests and the client reads responses with the same code, and both write so.
/// </summary>
public static class MessageFraming
{
    public const int HeaderLength = 5;

    /// <summary>The default limit on a received message, as grpc's own: 4 MiB.</summary>
    public const int DefaultMaxMessageBytes = 4 * 1024 * 1024;

    /// <summary>
    /// Reads the next message's payload, decompressed; null at the end of the stream. A message over
    /// <paramref name="maxMessageBytes"/> (before or after decompression) is RESOURCE_EXHAUSTED; a frame cut short, a
    /// bad flag, or a compressed message without <paramref name="encoding"/> gzip is INTERNAL, as for a protocol error.
    /// </summary>
    /// <param name="encoding">The stream's grpc-encoding (null or identity for none).</param>
    public static async Task<byte[]?> ReadMessageAsync(Stream stream, int maxMessageBytes, string? encoding, CancellationToken cancellation)
    {
        var header = new byte[HeaderLength];
        var read = await stream.ReadAtLeastAsync(header, HeaderLength, throwOnEndOfStream: false, cancellation);
        if (read == 0) return null;
        if (read < HeaderLength)
            throw new RpcException(StatusCode.Internal, $"truncated message: the stream ended {read} byte(s) into a 5-byte message header");
        var compressed = header[0] switch
        {
            0 => false,
            1 => true,
            var flag => throw new RpcException(StatusCode.Internal, $"invalid message frame: compressed flag {flag}, expected 0 or 1"),
        };
        var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(1));
        if (length > maxMessageBytes)
            throw new RpcException(StatusCode.ResourceExhausted, $"received message of {length} bytes exceeds the limit of {maxMessageBytes} bytes");
        var payload = new byte[length];
        read = await stream.ReadAtLeastAsync(payload, payload.Length, throwOnEndOfStream: false, cancellation);
        if (read < payload.Length)
            throw new RpcException(StatusCode.Internal, $"truncated message: the header announced {length} bytes, the stream ended after {read}");
        if (!compressed) return payload;
        if (!string.Equals(encoding, GrpcProtocol.Gzip, StringComparison.OrdinalIgnoreCase))
            throw new RpcException(StatusCode.Internal, $"a compressed message arrived with grpc-encoding '{encoding ?? GrpcProtocol.Identity}'");
        return Gunzip(payload, maxMessageBytes);
    }

    /// <summary>Writes <paramref name="message"/> as one frame, gzip-compressed when <paramref name="compress"/>.</summary>
    public static async Task WriteMessageAsync(Stream stream, IMessage message, bool compress, CancellationToken cancellation)
    {
        var frame = Frame(message, compress);
        await stream.WriteAsync(frame, cancellation);
    }

    /// <summary>One frame holding <paramref name="message"/>, gzip-compressed when <paramref name="compress"/>.</summary>
    public static byte[] Frame(IMessage message, bool compress)
    {
        var payload = message.ToByteArray();
        if (compress) payload = Gzip(payload);
        var frame = new byte[HeaderLength + payload.Length];
        frame[0] = compress ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.CopyTo(frame.AsSpan(HeaderLength));
        return frame;
    }

    private static byte[] Gzip(byte[] payload)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true)) gzip.Write(payload);
        return output.ToArray();
    }

    private static byte[] Gunzip(byte[] payload, int maxMessageBytes)
    {
        using var gzip = new GZipStream(new MemoryStream(payload), CompressionMode.Decompress);
        using var output = new MemoryStream();
        var buffer = new byte[81920];
        try
        {
            int read;
            while ((read = gzip.Read(buffer)) > 0)
            {
                if (output.Length + read > maxMessageBytes)
                    throw new RpcException(StatusCode.ResourceExhausted, $"decompressed message exceeds the limit of {maxMessageBytes} bytes");
                output.Write(buffer, 0, read);
            }
        }
        catch (InvalidDataException e)
        {
            throw new RpcException(StatusCode.Internal, $"a message marked gzip-compressed does not decompress: {e.Message}", e);
        }
        return output.ToArray();
    }
}
