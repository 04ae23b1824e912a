using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace OrleansLm.Runtime.Transport;

/// <summary>A connection another silo dialled: its requests run on the thread pool, concurrently, and are answered as they finish.</summary>
internal sealed class IncomingConnection(
    Socket socket, SiloAddress caller, TransportOptions options, TransportTraffic traffic, IRequestHandler handler, ILogger logger)
    : Connection(socket, caller, options, traffic, logger)
{
    // Not disposed: they hold no timer or link, and a cancel frame may race with the handler finishing.
    private readonly ConcurrentDictionary<long, CancellationTokenSource> running = new();
    private readonly BackgroundTasks handlers = new();

    public override bool Accepts(FrameKind kind, long requestId) => true;

    public override void OnMessage(FrameKind kind, long requestId, byte[] body)
    {
        switch (kind)
        {
            case FrameKind.Request:
                var cancellation = new CancellationTokenSource();
                if (!running.TryAdd(requestId, cancellation)) throw new InvalidDataException($"request {requestId} arrived twice");
                // A closure racing with this request may have swept the running calls before it was added.
                if (IsClosed) cancellation.Cancel();
                handlers.Track(Task.Run(() => HandleAsync(requestId, body, cancellation)));
                break;
            case FrameKind.Cancel:
                // Off the reader loop: the handler's token callbacks may do anything.
                if (running.TryGetValue(requestId, out var call)) _ = call.CancelAsync();
                break;
            case FrameKind.Ping:
                Writer.Enqueue(new OutgoingMessage(FrameKind.Pong, requestId, ReadOnlyMemory<byte>.Empty));
                break;
            default:
                throw new InvalidDataException($"a silo does not expect {kind} frames from its callers");
        }
    }

    protected override void OnClosed(Func<Exception> error)
    {
        foreach (var call in running.Values) _ = call.CancelAsync();
    }

    protected override Task WhenIdleAsync() => handlers.WhenAllAsync();

    private async Task HandleAsync(long requestId, byte[] request, CancellationTokenSource cancellation)
    {
        try
        {
            var response = await handler.HandleAsync(Remote, request, cancellation.Token);
            Writer.Enqueue(new OutgoingMessage(FrameKind.Response, requestId, response));
        }
        catch (Exception e)
        {
            // Answered even when the caller cancelled: it ignores answers to requests it gave up on.
            Writer.Enqueue(new OutgoingMessage(FrameKind.ErrorResponse, requestId, RemoteError.Encode(e)));
        }
        finally
        {
            running.TryRemove(requestId, out _);
        }
    }
}
