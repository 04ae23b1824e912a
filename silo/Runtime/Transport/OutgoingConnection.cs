using System.Collections.Concurrent;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace OrleansLm.Runtime.Transport;

/// <summary>The connection a silo dialled to send its calls: many calls at once, told apart by request id.</summary>
internal sealed class OutgoingConnection(
    Socket socket, SiloAddress remote, TransportOptions options, TransportTraffic traffic, ILogger logger, Action onClosed)
    : Connection(socket, remote, options, traffic, logger)
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource<byte[]>> pending = new();
    private long lastRequestId;
    private volatile Func<Exception>? closedError;

    /// <summary>
    /// Sends a request (or ping) and waits for its answer. Cancelling drops its unsent chunks and tells the remote,
    /// whose handler token fires, then throws <see cref="OperationCanceledException"/>.
    /// </summary>
    public async Task<byte[]> CallAsync(FrameKind kind, ReadOnlyMemory<byte> body, CancellationToken cancellation)
    {
        var requestId = Interlocked.Increment(ref lastRequestId);
        var response = new TaskCompletionSource<byte[]>(TaskCreationOptions.RunContinuationsAsynchronously);
        pending[requestId] = response;
        // Checked after registering: either this sees the closure or the closure's sweep sees this call.
        if (closedError is { } error && pending.TryRemove(requestId, out _)) throw error();
        var message = new OutgoingMessage(kind, requestId, body);
        Writer.Enqueue(message);
        try
        {
            return await response.Task.WaitAsync(cancellation);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            if (pending.TryRemove(requestId, out _))
            {
                message.Abort();
                Writer.Enqueue(new OutgoingMessage(FrameKind.Cancel, requestId, ReadOnlyMemory<byte>.Empty));
            }
            throw;
        }
    }

    public override bool Accepts(FrameKind kind, long requestId) => pending.ContainsKey(requestId);

    public override void OnMessage(FrameKind kind, long requestId, byte[] body)
    {
        if (kind is not (FrameKind.Response or FrameKind.ErrorResponse or FrameKind.Pong))
            throw new InvalidDataException($"a caller does not expect {kind} frames");
        if (!pending.TryRemove(requestId, out var response)) return;
        if (kind == FrameKind.ErrorResponse) response.TrySetException(RemoteError.Decode(body));
        else response.TrySetResult(body);
    }

    protected override void OnClosed(Func<Exception> error)
    {
        closedError = error;
        foreach (var requestId in pending.Keys)
        {
            if (pending.TryRemove(requestId, out var response)) response.TrySetException(error());
        }
        onClosed();
    }
}
