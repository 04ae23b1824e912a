using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace OrleansLm.Runtime.Transport;

/// <summary>
/// One authenticated TCP connection between two silos: a reader loop and a writer loop over the socket. The side
/// that dialled sends requests (<see cref="OutgoingConnection"/>); the side that accepted serves them
/// (<see cref="IncomingConnection"/>).
/// </summary>
internal abstract class Connection : IFrameSink
{
    private readonly Socket socket;
    private readonly FrameReader reader;
    private readonly CancellationTokenSource closing = new();
    private readonly ILogger logger;
    private int closed;

    protected Connection(Socket socket, SiloAddress remote, TransportOptions options, TransportTraffic traffic, ILogger logger)
    {
        this.socket = socket;
        this.logger = logger;
        Remote = remote;
        reader = new FrameReader(socket);
        Writer = new FrameWriter(socket, options.MaxChunkSize, traffic);
    }

    public SiloAddress Remote { get; }

    protected FrameWriter Writer { get; }

    protected bool IsClosed => Volatile.Read(ref closed) != 0;

    /// <summary>
    /// Runs the connection until it closes (the remote hung up, the socket failed, or <paramref name="stop"/> fired,
    /// which fails what is pending with <paramref name="stopError"/>); completes once nothing of it runs any more.
    /// </summary>
    public async Task RunAsync(CancellationToken stop, Func<Exception> stopError)
    {
        await using var onStop = stop.Register(() => Close(stopError));
        var writing = WriteAsync();
        try
        {
            await reader.RunAsync(this, closing.Token);
            Close(() => new SiloUnavailableException(Remote, "it closed the connection"));
        }
        catch (Exception e)
        {
            Close(() => new SiloUnavailableException(Remote, $"the connection failed: {e.Message}", e));
        }
        await writing;
        await WhenIdleAsync();
    }

    /// <summary>Closes the socket; the first reason given is the one pending calls fail with.</summary>
    public void Close(Func<Exception> error)
    {
        if (Interlocked.Exchange(ref closed, 1) != 0) return;
        logger.LogDebug("connection with {Remote} closed: {Reason}", Remote, error().Message);
        OnClosed(error);
        closing.Cancel();
        socket.Dispose();
    }

    public abstract bool Accepts(FrameKind kind, long requestId);

    public abstract void OnMessage(FrameKind kind, long requestId, byte[] body);

    /// <summary>Fails or cancels whatever depends on the connection; called once.</summary>
    protected abstract void OnClosed(Func<Exception> error);

    /// <summary>Work the connection started that may outlive its loops (request handlers).</summary>
    protected virtual Task WhenIdleAsync() => Task.CompletedTask;

    private async Task WriteAsync()
    {
        try
        {
            await Writer.RunAsync(closing.Token);
        }
        catch (Exception e)
        {
            Close(() => new SiloUnavailableException(Remote, $"sending failed: {e.Message}", e));
        }
    }
}
