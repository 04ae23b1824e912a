using System.Net;
using System.Net.Sockets;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Tests.Transport;

/// <summary>Started transports on loopback for the tests.</summary>
internal static class Silos
{
    public const string Secret = "the test cluster's secret";

    /// <summary>Generous bound on anything that should happen "at once"; a hang fails the test instead of stalling it.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    public static Task<TcpSiloTransport> StartAsync(IRequestHandler handler, string secret = Secret, RecordingLogger<TcpSiloTransport>? logger = null) =>
        StartAsync(handler, new TransportOptions { ClusterSecret = secret }, logger);

    public static async Task<TcpSiloTransport> StartAsync(IRequestHandler handler, TransportOptions options, RecordingLogger<TcpSiloTransport>? logger = null)
    {
        var transport = new TcpSiloTransport(options, logger);
        await transport.StartAsync(handler, CancellationToken.None);
        return transport;
    }

    public static Task<TcpSiloTransport> StartCallerAsync(string secret = Secret) => StartAsync(DelegateHandler.Unused, secret);

    /// <summary>A loopback port nothing listens on (bound, then released).</summary>
    public static int ClosedPort()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)socket.LocalEndPoint!).Port;
    }

    public static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }
}
