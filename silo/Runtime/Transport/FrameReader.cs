using System.Net.Sockets;

namespace OrleansLm.Runtime.Transport;

/// <summary>
/// The one reader of a connection: parses frames and reassembles interleaved chunked messages. Small frames come
/// through a receive buffer (many per syscall); the bulk of a large chunk goes from the socket straight into the
/// message's array, and while such chunks follow each other only the next header is read ahead, so big payloads
/// are never copied in user space.
/// </summary>
internal sealed class FrameReader(Socket socket)
{
    private const int BufferSize = 64 * 1024;
    private const int DirectReadThreshold = 8 * 1024;

    private readonly byte[] buffer = new byte[BufferSize];
    private readonly Dictionary<long, Reassembly> partial = [];
    private int start;
    private int end;

    /// <summary>Reads until the remote closes the connection at a frame boundary; anything else throws.</summary>
    public async Task RunAsync(IFrameSink sink, CancellationToken cancellation)
    {
        var readHeaderOnly = false;
        while (await FillAsync(FrameHeader.Size, readHeaderOnly, endOfStreamAllowed: true, cancellation))
        {
            var header = FrameHeader.Read(buffer.AsSpan(start, FrameHeader.Size));
            start += FrameHeader.Size;
            readHeaderOnly = false;
            if (header.Kind == FrameKind.Cancel)
            {
                if (header.MessageLength != 0) throw new InvalidDataException($"cancel frame of request {header.RequestId} has a body");
                partial.Remove(header.RequestId);
                sink.OnMessage(header.Kind, header.RequestId, []);
                continue;
            }
            var message = Continue(header, sink);
            if (message is null)
            {
                await SkipAsync(header.ChunkLength, cancellation);
                continue;
            }
            readHeaderOnly = await ReadIntoAsync(message.Body.AsMemory(message.Filled, header.ChunkLength), cancellation);
            message.Filled += header.ChunkLength;
            if (message.Filled < message.Body.Length)
            {
                partial.TryAdd(header.RequestId, message);
                continue;
            }
            partial.Remove(header.RequestId);
            sink.OnMessage(header.Kind, header.RequestId, message.Body);
        }
    }

    /// <summary>The message this chunk belongs to (new if it is the first), or null when the sink does not want it.</summary>
    private Reassembly? Continue(FrameHeader header, IFrameSink sink)
    {
        if (partial.TryGetValue(header.RequestId, out var message))
        {
            if (message.Kind != header.Kind || message.Body.Length != header.MessageLength
                || header.ChunkLength > message.Body.Length - message.Filled)
                throw new InvalidDataException($"chunk of request {header.RequestId} does not continue its {message.Kind} message");
            return message;
        }
        if (!sink.Accepts(header.Kind, header.RequestId)) return null;
        // Uninitialized: every byte is about to be overwritten, and zeroing 100 MB costs as much as a tenth of moving it.
        var body = header.MessageLength == 0 ? [] : GC.AllocateUninitializedArray<byte>(header.MessageLength);
        return new Reassembly(header.Kind, body);
    }

    /// <summary>Fills <paramref name="destination"/>; true when most of it came straight from the socket.</summary>
    private async ValueTask<bool> ReadIntoAsync(Memory<byte> destination, CancellationToken cancellation)
    {
        var buffered = Math.Min(destination.Length, end - start);
        buffer.AsSpan(start, buffered).CopyTo(destination.Span);
        start += buffered;
        var rest = destination[buffered..];
        if (rest.Length >= DirectReadThreshold)
        {
            while (!rest.IsEmpty)
            {
                var read = await socket.ReceiveAsync(rest, SocketFlags.None, cancellation);
                if (read == 0) throw MidFrameEnd();
                rest = rest[read..];
            }
            return true;
        }
        if (!rest.IsEmpty)
        {
            await FillAsync(rest.Length, headerOnly: false, endOfStreamAllowed: false, cancellation);
            buffer.AsSpan(start, rest.Length).CopyTo(rest.Span);
            start += rest.Length;
        }
        return false;
    }

    private async ValueTask SkipAsync(int length, CancellationToken cancellation)
    {
        while (length > 0)
        {
            var piece = Math.Min(length, BufferSize);
            await FillAsync(piece, headerOnly: false, endOfStreamAllowed: false, cancellation);
            start += piece;
            length -= piece;
        }
    }

    /// <summary>
    /// Makes <paramref name="count"/> bytes available at <see cref="start"/>, reading as much as fits unless
    /// <paramref name="headerOnly"/>; false only when the stream ends cleanly before the first byte.
    /// </summary>
    private async ValueTask<bool> FillAsync(int count, bool headerOnly, bool endOfStreamAllowed, CancellationToken cancellation)
    {
        if (end - start >= count) return true;
        if (start == end) start = end = 0;
        else if (buffer.Length - start < count)
        {
            buffer.AsSpan(start, end - start).CopyTo(buffer);
            end -= start;
            start = 0;
        }
        while (end - start < count)
        {
            var limit = headerOnly ? start + count : buffer.Length;
            var read = await socket.ReceiveAsync(buffer.AsMemory(end, limit - end), SocketFlags.None, cancellation);
            if (read == 0)
            {
                if (endOfStreamAllowed && end == start) return false;
                throw MidFrameEnd();
            }
            end += read;
        }
        return true;
    }

    private static EndOfStreamException MidFrameEnd() => new("the connection ended in the middle of a frame");

    private sealed class Reassembly(FrameKind kind, byte[] body)
    {
        public FrameKind Kind => kind;

        public byte[] Body => body;

        public int Filled { get; set; }
    }
}
