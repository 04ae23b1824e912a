using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Cluster;

/// <summary>A cluster silo's details: its address is the transport's, known once the transport listens.</summary>
internal sealed class ClusterSiloDetails(ISiloTransport transport, IReadOnlyList<string> roles, int devices) : ILocalSiloDetails
{
    public SiloAddress Address => transport.LocalAddress;

    public string HostName { get; } = Environment.MachineName;

    public IReadOnlyList<string> Roles { get; } = [.. roles];

    public int Devices { get; } = devices;
}
