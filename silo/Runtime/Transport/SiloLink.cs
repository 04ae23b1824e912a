using System.Net.Sockets;

namespace OrleansLm.Runtime.Transport;

/// <summary>
/// A silo's way to one target silo: dials on first use (concurrent callers share the dial and then the connection)
/// and leaves the transport's table when the dial fails or the connection breaks, so the next call dials afresh.
/// </summary>
internal sealed class SiloLink(TcpSiloTransport transport, SiloAddress target)
{
    private readonly Lock gate = new();
    private readonly CancellationTokenSource abort = new();
    private Task<OutgoingConnection>? connecting;
    private OutgoingConnection? connection;
    private Func<Exception>? failure;

    public SiloAddress Target => target;

    public Task<OutgoingConnection> ConnectAsync()
    {
        lock (gate)
        {
            if (connecting is null)
            {
                connecting = DialAsync();
                transport.Background.Track(connecting);
            }
            return connecting;
        }
    }

    /// <summary>Fails the dial in progress or closes the connection, with <paramref name="error"/> for every call waiting on either.</summary>
    public void Fail(Func<Exception> error)
    {
        OutgoingConnection? open;
        lock (gate)
        {
            failure ??= error;
            open = connection;
        }
        abort.Cancel();
        open?.Close(error);
    }

    private async Task<OutgoingConnection> DialAsync()
    {
        var socket = new Socket(target.EndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        transport.Options.Configure(socket);
        try
        {
            var remote = await OpenAsync(socket);
            if (remote.Generation != target.Generation)
                throw new SiloUnavailableException(target, $"stale incarnation: {remote} answers at that endpoint now");
            if (transport.IsDead(target)) throw TcpSiloTransport.DeclaredDead(target);
            var opened = new OutgoingConnection(socket, target, transport.Options, transport.Traffic, transport.Logger, () => transport.Forget(this));
            lock (gate)
            {
                if (failure is not null) throw failure();
                connection = opened;
            }
            transport.Background.Track(opened.RunAsync(transport.Stopping, TcpSiloTransport.Disposed));
            return opened;
        }
        catch
        {
            socket.Dispose();
            transport.Forget(this);
            throw;
        }
    }

    /// <summary>TCP connect plus handshake within the connect timeout; returns the address the remote announced.</summary>
    private async Task<SiloAddress> OpenAsync(Socket socket)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(abort.Token, transport.Stopping);
        timeout.CancelAfter(transport.Options.ConnectTimeout);
        try
        {
            await socket.ConnectAsync(target.EndPoint, timeout.Token);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            return await Handshake.ConnectAsync(stream, transport.LocalAddress, target, transport.Secret, timeout.Token);
        }
        catch (Exception e) when (e is not SiloUnavailableException)
        {
            lock (gate)
            {
                if (failure is not null) throw failure();
            }
            if (transport.Stopping.IsCancellationRequested) throw TcpSiloTransport.Disposed();
            throw e switch
            {
                OperationCanceledException => new SiloUnavailableException(target, $"no connection within {transport.Options.ConnectTimeout}"),
                SocketException { SocketErrorCode: SocketError.ConnectionRefused } =>
                    new SiloUnavailableException(target, "it refused the connection (nothing listens there)", e),
                _ => new SiloUnavailableException(target, $"the connection could not be opened: {e.Message}", e),
            };
        }
    }
}
