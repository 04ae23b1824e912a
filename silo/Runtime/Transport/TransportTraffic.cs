namespace OrleansLm.Runtime.Transport;

/// <summary>What a transport has written to its sockets, frames and headers included: the bytes a silo moved.</summary>
public sealed class TransportTraffic
{
    private long bytesSent;

    public long BytesSent => Interlocked.Read(ref bytesSent);

    internal void Sent(int bytes) => Interlocked.Add(ref bytesSent, bytes);
}
