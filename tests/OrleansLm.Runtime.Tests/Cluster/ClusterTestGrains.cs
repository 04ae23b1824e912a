using System.Collections.Concurrent;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Tests.Cluster;

public interface IClusterGrain : IGrainWithStringKey
{
    /// <summary>The silo the activation runs on.</summary>
    Task<string> Where();
}

/// <summary>Records every activation, by key, with the silo it ran on: tests count activations cluster-wide.</summary>
public sealed class ClusterGrain(ILocalSiloDetails silo) : Grain, IClusterGrain
{
    public static ConcurrentDictionary<string, ConcurrentQueue<string>> Activations { get; } = new();

    public static IReadOnlyList<string> ActivationsOf(string key) => Activations.TryGetValue(key, out var silos) ? [.. silos] : [];

    public override Task OnActivateAsync(CancellationToken cancellation)
    {
        Activations.GetOrAdd(GetPrimaryKeyString(), _ => new()).Enqueue(silo.Address.ToString());
        return Task.CompletedTask;
    }

    public Task<string> Where() => Task.FromResult(silo.Address.ToString());
}

public interface IClusterDeviceGrain : IGrainWithStringKey
{
    Task<string> Where();
}

[Placement.SiloRoleConstraint("worker", RequiresDevice = true)]
public sealed class ClusterDeviceGrain(ILocalSiloDetails silo) : Grain, IClusterDeviceGrain
{
    public Task<string> Where() => Task.FromResult(silo.Address.ToString());
}
