using System.Buffers;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace OrleansLm.Runtime.Transport;

/// <summary>
/// The one writer of a connection. Queued messages take turns a chunk at a time (round-robin), so a small message
/// queued behind a 100 MB one waits for at most one write, not for the whole payload. Each write gathers several frames
/// (headers plus slices of the callers' bodies, not copies) into one send.
/// </summary>
internal sealed class FrameWriter(Socket socket, int maxChunkSize, TransportTraffic traffic)
{
    private const int MaxFramesPerWrite = 64;

    // A lone large message goes out several chunks per send (fewer syscalls); the cap bounds how long a newly
    // queued small message waits for the send in progress.
    private readonly int maxBytesPerWrite = 4 * maxChunkSize;
    private readonly Queue<OutgoingMessage> queue = new();
    private readonly Channel<bool> wakeUp = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });

    public void Enqueue(OutgoingMessage message)
    {
        lock (queue) queue.Enqueue(message);
        wakeUp.Writer.TryWrite(true);
    }

    /// <summary>Writes until cancelled (the connection closed) or the socket fails.</summary>
    public async Task RunAsync(CancellationToken cancellation)
    {
        var headers = new byte[MaxFramesPerWrite * FrameHeader.Size];
        var segments = new List<ArraySegment<byte>>(2 * MaxFramesPerWrite);
        var copies = new List<byte[]>();
        while (true)
        {
            var bytes = TakeFrames(headers, segments, copies);
            if (bytes == 0)
            {
                await wakeUp.Reader.ReadAsync(cancellation);
                continue;
            }
            try
            {
                await SendAllAsync(segments, bytes);
            }
            finally
            {
                segments.Clear();
                foreach (var copy in copies) ArrayPool<byte>.Shared.Return(copy);
                copies.Clear();
            }
        }
    }

    /// <summary>Lays out the next write: one chunk per queued message in turn, each unfinished message requeued at the back.</summary>
    private int TakeFrames(byte[] headers, List<ArraySegment<byte>> segments, List<byte[]> copies)
    {
        var frames = 0;
        var bytes = 0;
        lock (queue)
        {
            while (frames < MaxFramesPerWrite && bytes < maxBytesPerWrite && queue.TryDequeue(out var message))
            {
                if (message.IsAborted) continue;
                var chunk = message.Body.Slice(message.Sent, Math.Min(maxChunkSize, message.Body.Length - message.Sent));
                var header = new ArraySegment<byte>(headers, frames * FrameHeader.Size, FrameHeader.Size);
                new FrameHeader(message.Kind, message.RequestId, message.Body.Length, chunk.Length).Write(header);
                segments.Add(header);
                if (!chunk.IsEmpty) segments.Add(AsSegment(chunk, copies));
                message.Sent += chunk.Length;
                bytes += FrameHeader.Size + chunk.Length;
                frames++;
                if (message.Sent < message.Body.Length) queue.Enqueue(message);
            }
        }
        return bytes;
    }

    /// <summary>The chunk itself when it lives in an array; memory that does not (native) is copied into a pooled one.</summary>
    private static ArraySegment<byte> AsSegment(ReadOnlyMemory<byte> chunk, List<byte[]> copies)
    {
        if (MemoryMarshal.TryGetArray(chunk, out var segment)) return segment;
        var copy = ArrayPool<byte>.Shared.Rent(chunk.Length);
        copies.Add(copy);
        chunk.CopyTo(copy);
        return new ArraySegment<byte>(copy, 0, chunk.Length);
    }

    private async Task SendAllAsync(List<ArraySegment<byte>> segments, int bytes)
    {
        traffic.Sent(bytes);
        var sent = await socket.SendAsync(segments, SocketFlags.None);
        while (sent < bytes)
        {
            // A partial send: drop what went out and send the rest.
            bytes -= sent;
            while (sent >= segments[0].Count)
            {
                sent -= segments[0].Count;
                segments.RemoveAt(0);
            }
            segments[0] = segments[0][sent..];
            sent = await socket.SendAsync(segments, SocketFlags.None);
        }
    }
}
