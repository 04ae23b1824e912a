namespace OrleansLm.Runtime.Transport;

/// <summary>A message queued on a <see cref="FrameWriter"/>, sent a chunk at a time.</summary>
internal sealed class OutgoingMessage(FrameKind kind, long requestId, ReadOnlyMemory<byte> body)
{
    private volatile bool aborted;

    public FrameKind Kind => kind;

    public long RequestId => requestId;

    public ReadOnlyMemory<byte> Body => body;

    /// <summary>How many body bytes the writer has put into frames so far; only the writer touches it.</summary>
    public int Sent { get; set; }

    public bool IsAborted => aborted;

    /// <summary>Its chunks not yet sent are dropped: the caller gave up, and a cancel frame tells the receiver.</summary>
    public void Abort() => aborted = true;
}
