using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace OrleansLm.Runtime.Tests.Transport;

/// <summary>A loopback TCP forwarder that tests can cut, to break connections while both silos stay up.</summary>
internal sealed class TcpProxy : IAsyncDisposable
{
    private readonly Socket listener = new(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly IPEndPoint upstream;
    private readonly ConcurrentDictionary<Socket, byte> open = new();
    private readonly CancellationTokenSource stopping = new();
    private readonly Task accepting;
    private int accepted;

    public TcpProxy(IPEndPoint upstream)
    {
        this.upstream = upstream;
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        accepting = AcceptAsync();
    }

    public int Port { get; }

    public int Accepted => Volatile.Read(ref accepted);

    /// <summary>Resets every forwarded connection (RST, as when a host vanishes).</summary>
    public void Cut()
    {
        foreach (var socket in open.Keys) socket.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        stopping.Cancel();
        listener.Dispose();
        Cut();
        await accepting.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task AcceptAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            var down = await listener.AcceptAsync(stopping.Token);
            Interlocked.Increment(ref accepted);
            var up = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            // Zero linger: closing resets the connection instead of a graceful FIN.
            down.LingerState = up.LingerState = new LingerOption(true, 0);
            await up.ConnectAsync(upstream);
            open.TryAdd(down, 0);
            open.TryAdd(up, 0);
            _ = PumpAsync(down, up);
            _ = PumpAsync(up, down);
        }
    }

    private async Task PumpAsync(Socket from, Socket to)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReceiveAsync(buffer)) > 0)
                await to.SendAsync(buffer.AsMemory(0, read));
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            open.TryRemove(from, out _);
            open.TryRemove(to, out _);
            from.Dispose();
            to.Dispose();
        }
    }
}
