using System.Net;
using System.Net.Sockets;

namespace OrleansLm.TransportBench;

/// <summary>
/// The baseline: one loopback TCP connection, the sender writes the whole payload in one send, the receiver reads
/// it into a buffer allocated once and answers one byte — what any transport over this socket can at best approach.
/// </summary>
internal sealed class RawTcp : IAsyncDisposable
{
    private readonly Socket sender;
    private readonly Socket receiver;
    private readonly byte[] received;
    private readonly byte[] ack = new byte[1];

    private RawTcp(Socket sender, Socket receiver, int size)
    {
        this.sender = sender;
        this.receiver = receiver;
        received = GC.AllocateUninitializedArray<byte>(size);
    }

    /// <summary>A connected socket pair; <paramref name="bufferSize"/> sets the kernel buffers as the transport does (null: OS default).</summary>
    public static async Task<RawTcp> ConnectAsync(int size, int? bufferSize)
    {
        using var listener = NewSocket(bufferSize);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var sender = NewSocket(bufferSize);
        var accepting = listener.AcceptAsync();
        await sender.ConnectAsync(listener.LocalEndPoint!);
        var receiver = await accepting;
        receiver.NoDelay = true;
        return new RawTcp(sender, receiver, size);
    }

    private static Socket NewSocket(int? bufferSize)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (bufferSize is { } bytes)
        {
            socket.SendBufferSize = bytes;
            socket.ReceiveBufferSize = bytes;
        }
        return socket;
    }

    /// <summary>Sends <paramref name="payload"/> and waits for the receiver's one-byte acknowledgement of all of it.</summary>
    public async Task SendAsync(byte[] payload)
    {
        var receiving = ReceiveAsync(payload.Length);
        await sender.SendAsync(payload);
        await receiving;
        if (await sender.ReceiveAsync(ack.AsMemory()) != 1) throw new EndOfStreamException("no acknowledgement");
    }

    public ValueTask DisposeAsync()
    {
        sender.Dispose();
        receiver.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task ReceiveAsync(int length)
    {
        for (var filled = 0; filled < length;)
        {
            var read = await receiver.ReceiveAsync(received.AsMemory(filled, length - filled));
            if (read == 0) throw new EndOfStreamException("the sender closed early");
            filled += read;
        }
        await receiver.SendAsync(ack.AsMemory());
    }
}
