using OrleansLm.Testing;

namespace OrleansLm.Runtime.Tests.Processes;

/// <summary>
/// A Linux network namespace joined to this one by veth pairs, each its own /30 subnet: the host end (in this
/// namespace) and the namespace end. <see cref="Cut"/> takes a pair's namespace end down, which partitions the
/// pair both ways (the host end keeps its address, so silos here still reach each other through it). Needs root
/// and iproute2; deleting the namespace deletes its pairs.
/// </summary>
public sealed class NetworkNamespace : IAsyncDisposable
{
    private static readonly Lazy<string?> Unavailable = new(ProbeAsync().GetAwaiter().GetResult);

    private NetworkNamespace(string name, IReadOnlyList<VethLink> links)
    {
        Name = name;
        Links = links;
    }

    public string Name { get; }

    public IReadOnlyList<VethLink> Links { get; }

    /// <summary>Why this machine cannot make namespaces (not root, no iproute2, no permission), or null when it can.</summary>
    public static string? WhyUnavailable => Unavailable.Value;

    public static async Task<NetworkNamespace> CreateAsync(int links)
    {
        var tag = Guid.NewGuid().ToString("N")[..6];
        var name = $"olm-{tag}";
        var subnet = Random.Shared.Next(0, 256 - links);
        var made = Enumerable.Range(0, links)
            .Select(i => new VethLink($"olm{tag}h{i}", $"olm{tag}n{i}", $"10.213.{subnet + i}.1", $"10.213.{subnet + i}.2"))
            .ToList();
        var created = new NetworkNamespace(name, made);
        try
        {
            await IpAsync("netns", "add", name);
            await InsideAsync(name, "link", "set", "lo", "up");
            foreach (var link in made)
            {
                await IpAsync("link", "add", link.HostDevice, "type", "veth", "peer", "name", link.NamespaceDevice);
                await IpAsync("link", "set", link.NamespaceDevice, "netns", name);
                await IpAsync("addr", "add", $"{link.HostAddress}/30", "dev", link.HostDevice);
                await IpAsync("link", "set", link.HostDevice, "up");
                await InsideAsync(name, "addr", "add", $"{link.NamespaceAddress}/30", "dev", link.NamespaceDevice);
                await InsideAsync(name, "link", "set", link.NamespaceDevice, "up");
            }
            return created;
        }
        catch
        {
            await created.DisposeAsync();
            throw;
        }
    }

    public Task Cut(VethLink link) => InsideAsync(Name, "link", "set", link.NamespaceDevice, "down");

    public Task Heal(VethLink link) => InsideAsync(Name, "link", "set", link.NamespaceDevice, "up");

    public async ValueTask DisposeAsync()
    {
        try
        {
            await IpAsync("netns", "delete", Name);
        }
        catch (InvalidOperationException)
        {
            // Never made: a veth pair left in this namespace goes with its host end.
            foreach (var link in Links)
            {
                try
                {
                    await IpAsync("link", "delete", link.HostDevice);
                }
                catch (InvalidOperationException)
                {
                    // Not made either.
                }
            }
        }
    }

    private static async Task<string?> ProbeAsync()
    {
        if (!OperatingSystem.IsLinux()) return "network namespaces are Linux-only";
        if (!Environment.IsPrivilegedProcess) return "making network namespaces needs root";
        try
        {
            await using var probe = await CreateAsync(links: 1);
            return null;
        }
        catch (Exception e)
        {
            return $"this machine cannot make a network namespace with a veth pair: {e.Message}";
        }
    }

    private static Task InsideAsync(string name, params string[] arguments) => IpAsync(["netns", "exec", name, "ip", .. arguments]);

    private static Task IpAsync(params string[] arguments) => Tool.RunAsync("ip", arguments);
}

/// <param name="HostAddress">The host end's address, in this namespace.</param>
/// <param name="NamespaceAddress">The namespace end's address.</param>
public sealed record VethLink(string HostDevice, string NamespaceDevice, string HostAddress, string NamespaceAddress);

/// <summary>A fact that runs only where <see cref="NetworkNamespace"/> can be made (root with iproute2), and says why it is skipped elsewhere.</summary>
public sealed class NetworkNamespaceFactAttribute : FactAttribute
{
    public NetworkNamespaceFactAttribute()
    {
        if (NetworkNamespace.WhyUnavailable is { } reason)
            Skip = reason;
    }
}
