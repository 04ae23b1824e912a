using System.Net;
using System.Net.Sockets;

namespace OrleansLm.Runtime.Transport;

/// <summary>How a silo's <see cref="TcpSiloTransport"/> listens, authenticates and frames.</summary>
public sealed class TransportOptions
{
    /// <summary>Where the silo listens; port 0 picks a free one (read it back from <see cref="TcpSiloTransport.LocalAddress"/>).</summary>
    public IPEndPoint ListenEndPoint { get; set; } = new(IPAddress.Loopback, 0);

    /// <summary>The IP other silos dial; required when <see cref="ListenEndPoint"/> is a wildcard address, else that address.</summary>
    public string? AdvertisedHost { get; set; }

    /// <summary>Shared by every silo of the cluster; a caller that cannot prove it knows it is refused.</summary>
    public string ClusterSecret { get; set; } = "";

    /// <summary>What <see cref="TcpSiloTransport.SendAsync(SiloAddress, ReadOnlyMemory{byte}, CancellationToken)"/> waits for an answer.</summary>
    public TimeSpan DefaultCallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long opening a connection (TCP connect plus handshake) may take, dialling or accepting.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Messages are cut into chunks of at most this many bytes, and the chunks of concurrent messages interleave: a
    /// small call waits behind at most a few chunks of a large one.
    /// </summary>
    public int MaxChunkSize { get; set; } = 64 * 1024;

    /// <summary>
    /// The kernel's send and receive buffer of each connection, in bytes; null leaves the OS to size them (Linux grows
    /// them to megabytes under load). Bytes queued there are ahead of every new message, chunking cannot reorder them:
    /// a small bound keeps small calls quick beside bulk transfers (on loopback, 256 KiB took the p99 of a small call
    /// beside streaming 64 MB payloads from 5–20 ms down to 1–4 ms), at the price of throughput on links with a long
    /// round trip (a bound below bandwidth × round-trip time caps the rate).
    /// </summary>
    public int? SocketBufferSize { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that is unusable.</summary>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(ListenEndPoint, nameof(ListenEndPoint));
        if (string.IsNullOrEmpty(ClusterSecret))
            throw new ArgumentException($"{nameof(TransportOptions)}.{nameof(ClusterSecret)} is empty: the silo port requires a cluster secret", nameof(ClusterSecret));
        if (AdvertisedHost is not null && !IPAddress.TryParse(AdvertisedHost, out _))
            throw new ArgumentException($"{nameof(TransportOptions)}.{nameof(AdvertisedHost)} '{AdvertisedHost}' is not an IP address", nameof(AdvertisedHost));
        if (AdvertisedHost is null && (ListenEndPoint.Address.Equals(IPAddress.Any) || ListenEndPoint.Address.Equals(IPAddress.IPv6Any)))
            throw new ArgumentException($"{nameof(TransportOptions)}.{nameof(AdvertisedHost)} is required when listening on {ListenEndPoint.Address}", nameof(AdvertisedHost));
        RequirePositive(DefaultCallTimeout, nameof(DefaultCallTimeout));
        RequirePositive(ConnectTimeout, nameof(ConnectTimeout));
        if (MaxChunkSize < 1024)
            throw new ArgumentException($"{nameof(TransportOptions)}.{nameof(MaxChunkSize)} is {MaxChunkSize}; it must be at least 1024 bytes", nameof(MaxChunkSize));
        if (SocketBufferSize < 4096)
            throw new ArgumentException($"{nameof(TransportOptions)}.{nameof(SocketBufferSize)} is {SocketBufferSize}; it must be at least 4096 bytes or unset", nameof(SocketBufferSize));
    }

    /// <summary>Sets up a connection's socket, dialled or accepted: no Nagle delay on small frames, the buffers as configured.</summary>
    internal void Configure(Socket socket)
    {
        socket.NoDelay = true;
        if (SocketBufferSize is not { } size) return;
        socket.SendBufferSize = size;
        socket.ReceiveBufferSize = size;
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero && value != Timeout.InfiniteTimeSpan)
            throw new ArgumentException($"{nameof(TransportOptions)}.{name} is {value}; it must be positive or infinite", name);
    }
}
