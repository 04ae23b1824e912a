using System.Net;
using System.Net.Sockets;

namespace OrleansLm.Testing;

public static class LoopbackPorts
{
    /// <summary>A loopback port free now, for a server that must be told its port (it may be taken again before use, rarely).</summary>
    public static int Free()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
