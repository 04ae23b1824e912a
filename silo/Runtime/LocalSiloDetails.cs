namespace OrleansLm.Runtime;

/// <summary>
/// This silo as the grain runtime sees it. <see cref="Address"/> is read when the runtime starts, so a cluster host
/// whose transport picks its port at start can provide it then.
/// </summary>
public interface ILocalSiloDetails
{
    SiloAddress Address { get; }

    /// <summary>The machine's name, published in the membership row for operators.</summary>
    string HostName { get; }

    /// <summary>Roles offered to constraint-based placement (e.g. "worker").</summary>
    IReadOnlyList<string> Roles { get; }

    /// <summary>Devices (accelerators) this silo offers to grains that require one.</summary>
    int Devices { get; }
}

/// <summary>Fixed details, e.g. from configuration; the default is a loopback address with no roles and no devices.</summary>
public sealed class LocalSiloDetails(SiloAddress address, IReadOnlyList<string>? roles = null, int devices = 0, string? hostName = null) : ILocalSiloDetails
{
    public SiloAddress Address { get; } = address;

    public string HostName { get; } = hostName ?? Environment.MachineName;

    public IReadOnlyList<string> Roles { get; } = roles ?? [];

    public int Devices { get; } = devices >= 0 ? devices : throw new ArgumentOutOfRangeException(nameof(devices), devices, "devices cannot be negative");

    public static LocalSiloDetails Loopback() => new(new SiloAddress("127.0.0.1", 0, DateTime.UtcNow.Ticks));
}
