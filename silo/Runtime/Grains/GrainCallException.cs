namespace OrleansLm.Runtime.Grains;

/// <summary>
/// A grain on another silo threw an exception that cannot be rebuilt here as its own type (see GrainCallCodec):
/// <see cref="RemoteType"/> names it, <see cref="RemoteMessage"/> is its message.
/// </summary>
public sealed class GrainCallException(string remoteType, string remoteMessage, string? remoteStackTrace = null)
    : Exception($"{remoteType}: {remoteMessage}")
{
    /// <summary>The full name of the exception type thrown on the remote silo.</summary>
    public string RemoteType { get; } = remoteType;

    public string RemoteMessage { get; } = remoteMessage;

    /// <summary>The remote exception's stack trace as text, when it was sent.</summary>
    public string? RemoteStackTrace { get; } = remoteStackTrace;
}
