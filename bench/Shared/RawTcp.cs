using System.Net;
using System.Net.Sockets;

namespace OrleansLm.Bench;

/// <summary>
/// The baseline: one loopback TCP connection, the sender writes the whole request in one send, the receiver reads
/// it into a buffer allocated once and answers a fixed number of bytes — what any transport over this socket can at
/// best approach.
/// </summary>
internal sealed class RawTcp : IAsyncDisposable
{
    private readonly Socket sender;
    private readonly Socket receiver;
    private readonly byte[] received;
    private readonly byte[] answer;
    private readonly byte[] answerReceived;

    private RawTcp(Socket sender, Socket receiver, int size, int answerSize)
    {
        this.sender = sender;
        this.receiver = receiver;
        received = GC.AllocateUninitializedArray<byte>(size);
        answer = new byte[answerSize];
        answerReceived = new byte[answerSize];
    }

    /// <summary>
    /// A connected socket pair for requests of up to <paramref name="size"/> bytes, each answered with
    /// <paramref name="answerSize"/> bytes; <paramref name="bufferSize"/> sets the kernel buffers as the transport
    /// does (null: OS default).
    /// </summary>
    public static async Task<RawTcp> ConnectAsync(int size, int? bufferSize, int answerSize = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(answerSize, 1);
        using var listener = NewSocket(bufferSize);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var sender = NewSocket(bufferSize);
        var accepting = listener.AcceptAsync();
        await sender.ConnectAsync(listener.LocalEndPoint!);
        var receiver = await accepting;
        receiver.NoDelay = true;
        return new RawTcp(sender, receiver, size, answerSize);
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

    /// <summary>Sends <paramref name="payload"/> and waits for the receiver's answer to all of it.</summary>
    public async Task SendAsync(byte[] payload)
    {
        var receiving = ReceiveAsync(payload.Length);
        await sender.SendAsync(payload);
        await receiving;
        await ReadExactlyAsync(sender, answerReceived, "no answer");
    }

    public ValueTask DisposeAsync()
    {
        sender.Dispose();
        receiver.Dispose();
        return ValueTask.CompletedTask;
    }

    private async Task ReceiveAsync(int length)
    {
        await ReadExactlyAsync(receiver, received.AsMemory(0, length), "the sender closed early");
        await receiver.SendAsync(answer.AsMemory());
    }

    private static async Task ReadExactlyAsync(Socket socket, Memory<byte> buffer, string endOfStream)
    {
        for (var filled = 0; filled < buffer.Length;)
        {
            var read = await socket.ReceiveAsync(buffer[filled..]);
            if (read == 0) throw new EndOfStreamException(endOfStream);
            filled += read;
        }
    }
}
