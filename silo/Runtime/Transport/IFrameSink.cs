namespace OrleansLm.Runtime.Transport;

/// <summary>Where a <see cref="FrameReader"/> delivers the messages it has reassembled.</summary>
internal interface IFrameSink
{
    /// <summary>Whether a message starting now is wanted; the bytes of an unwanted one (a late response) are skipped.</summary>
    bool Accepts(FrameKind kind, long requestId);

    /// <summary>A whole message. Runs on the reader loop, so it must not block.</summary>
    void OnMessage(FrameKind kind, long requestId, byte[] body);
}
