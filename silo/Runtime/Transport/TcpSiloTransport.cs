using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace OrleansLm.Runtime.Transport;

/// <summary>
/// <see cref="ISiloTransport"/> over TCP. A silo dials one connection per target silo, lazily, and multiplexes
/// all its calls to that silo over it by request id; it serves the connections other silos dialled. Each new
/// connection starts with a challenge–response on the cluster secret and an exchange of silo addresses
/// (<see cref="Handshake"/>). Messages travel in chunks of at most <see cref="TransportOptions.MaxChunkSize"/>,
/// interleaved across concurrent messages, so small calls overtake large payloads.
/// </summary>
public sealed class TcpSiloTransport : ISiloTransport
{
    private readonly ConcurrentDictionary<SiloAddress, SiloLink> links = new();
    private readonly ConcurrentDictionary<SiloAddress, byte> dead = new();
    private readonly CancellationTokenSource stopping = new();
    private SiloAddress? localAddress;
    private int started;
    private int disposed;

    public TcpSiloTransport(TransportOptions options, ILogger<TcpSiloTransport>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Options = options;
        Secret = Encoding.UTF8.GetBytes(options.ClusterSecret);
        Logger = logger ?? NullLogger<TcpSiloTransport>.Instance;
    }

    public SiloAddress LocalAddress => localAddress ?? throw new InvalidOperationException("the silo transport has not been started");

    internal TransportOptions Options { get; }

    public TransportTraffic Traffic { get; } = new();

    internal byte[] Secret { get; }

    internal ILogger Logger { get; }

    internal CancellationToken Stopping => stopping.Token;

    internal BackgroundTasks Background { get; } = new();

    public Task StartAsync(IRequestHandler handler, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        cancellation.ThrowIfCancellationRequested();
        if (Interlocked.Exchange(ref started, 1) != 0) throw new InvalidOperationException("the silo transport was already started");
        var listener = new Socket(Options.ListenEndPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // Before listening: accepted sockets inherit the buffer sizes, and the window scale follows from them.
            Options.Configure(listener);
            listener.Bind(Options.ListenEndPoint);
            listener.Listen();
        }
        catch (SocketException e)
        {
            listener.Dispose();
            throw new InvalidOperationException($"the silo transport cannot listen on {Options.ListenEndPoint}: {e.Message}", e);
        }
        var bound = (IPEndPoint)listener.LocalEndPoint!;
        localAddress = SiloAddress.New(new IPEndPoint(IPAddress.Parse(Options.AdvertisedHost ?? bound.Address.ToString()), bound.Port));
        Background.Track(AcceptAsync(listener, handler));
        Logger.LogInformation("silo transport listening on {EndPoint} as {Silo}", bound, localAddress);
        return Task.CompletedTask;
    }

    public async Task<ReadOnlyMemory<byte>> SendAsync(SiloAddress target, ReadOnlyMemory<byte> request, TimeSpan timeout, CancellationToken cancellation) =>
        await CallAsync(target, FrameKind.Request, request, timeout, cancellation);

    /// <summary>Sends with <see cref="TransportOptions.DefaultCallTimeout"/>.</summary>
    public Task<ReadOnlyMemory<byte>> SendAsync(SiloAddress target, ReadOnlyMemory<byte> request, CancellationToken cancellation) =>
        SendAsync(target, request, Options.DefaultCallTimeout, cancellation);

    public Task PingAsync(SiloAddress target, TimeSpan timeout, CancellationToken cancellation) =>
        CallAsync(target, FrameKind.Ping, ReadOnlyMemory<byte>.Empty, timeout, cancellation);

    public void MarkDead(SiloAddress silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (!dead.TryAdd(silo, 0)) return;
        if (links.TryRemove(silo, out var link)) link.Fail(() => DeclaredDead(silo));
        Logger.LogInformation("silo {Silo} marked dead: its calls fail from now on", silo);
    }

    /// <summary>Stops listening, closes every connection (pending calls fail), and returns once nothing of the transport runs.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0) return;
        stopping.Cancel();
        await Background.WhenAllAsync();
    }

    internal static SiloUnavailableException DeclaredDead(SiloAddress silo) => new(silo, "it was declared dead");

    internal static ObjectDisposedException Disposed() => new(nameof(TcpSiloTransport), "the silo transport was disposed");

    internal bool IsDead(SiloAddress silo) => dead.ContainsKey(silo);

    /// <summary>Drops a link that failed or broke, unless a newer one already replaced it.</summary>
    internal void Forget(SiloLink link) => links.TryRemove(KeyValuePair.Create(link.Target, link));

    private async Task<byte[]> CallAsync(SiloAddress target, FrameKind kind, ReadOnlyMemory<byte> body, TimeSpan timeout, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (timeout <= TimeSpan.Zero && timeout != Timeout.InfiniteTimeSpan)
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "a call timeout must be positive or infinite");
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        _ = LocalAddress;
        if (IsDead(target)) throw DeclaredDead(target);
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        deadline.CancelAfter(timeout);
        try
        {
            var link = links.GetOrAdd(target, static (silo, transport) => new SiloLink(transport, silo), this);
            var connection = await link.ConnectAsync().WaitAsync(deadline.Token);
            return await connection.CallAsync(kind, body, deadline.Token);
        }
        catch (OperationCanceledException e) when (deadline.IsCancellationRequested)
        {
            if (cancellation.IsCancellationRequested) throw new OperationCanceledException(e.Message, e, cancellation);
            var what = kind == FrameKind.Ping ? "ping" : "call";
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture,
                $"{what} to silo {target} got no answer within {timeout.TotalSeconds:0.###} s"));
        }
    }

    private async Task AcceptAsync(Socket listener, IRequestHandler handler)
    {
        using (listener)
        {
            while (true)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptAsync(Stopping);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
                catch (SocketException e)
                {
                    Logger.LogWarning(e, "accepting a connection on {Silo} failed", localAddress);
                    continue;
                }
                Background.Track(ServeAsync(socket, handler));
            }
        }
    }

    private async Task ServeAsync(Socket socket, IRequestHandler handler)
    {
        Options.Configure(socket);
        var endPoint = socket.RemoteEndPoint;
        SiloAddress caller;
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Stopping);
            timeout.CancelAfter(Options.ConnectTimeout);
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            caller = await Handshake.AcceptAsync(stream, LocalAddress, Secret, timeout.Token);
        }
        catch (Exception e)
        {
            if (e is AuthenticationException)
                Logger.LogWarning("refused a connection from {EndPoint}: {Reason}", endPoint, e.Message);
            else if (!Stopping.IsCancellationRequested)
                Logger.LogInformation("dropped a connection from {EndPoint} during its handshake: {Reason}", endPoint,
                    e is OperationCanceledException ? $"no handshake within {Options.ConnectTimeout}" : e.Message);
            socket.Dispose();
            return;
        }
        Logger.LogInformation("silo {Caller} connected from {EndPoint}", caller, endPoint);
        await new IncomingConnection(socket, caller, Options, Traffic, handler, Logger).RunAsync(Stopping, Disposed);
    }
}
