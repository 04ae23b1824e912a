namespace OrleansLm.Runtime.Transport;

/// <summary>What a frame carries. Callers send requests, cancels and pings; the silo they call answers with the rest.</summary>
internal enum FrameKind : byte
{
    Request = 1,
    Response = 2,

    /// <summary>The handler threw; the body is a <see cref="RemoteError"/>.</summary>
    ErrorResponse = 3,

    /// <summary>The caller gave up on a request (cancelled or timed out): its handler's token fires.</summary>
    Cancel = 4,

    Ping = 5,
    Pong = 6,
}
