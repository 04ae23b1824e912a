using System.Collections.Concurrent;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.GrainDirectory;

/// <summary>The directory of one process: a silo on its own, or several silos in one test process sharing an instance.</summary>
public sealed class InMemoryGrainDirectory : IGrainDirectory
{
    private readonly ConcurrentDictionary<GrainId, SiloAddress> registrations = new();

    public int Count => registrations.Count;

    public ValueTask<SiloAddress> RegisterAsync(GrainId grainId, SiloAddress silo, CancellationToken cancellation = default) =>
        ValueTask.FromResult(registrations.GetOrAdd(grainId, silo));

    public ValueTask<SiloAddress?> LookupAsync(GrainId grainId, CancellationToken cancellation = default) =>
        ValueTask.FromResult(registrations.TryGetValue(grainId, out var silo) ? silo : null);

    public ValueTask UnregisterAsync(GrainId grainId, SiloAddress silo, CancellationToken cancellation = default)
    {
        registrations.TryRemove(KeyValuePair.Create(grainId, silo));
        return ValueTask.CompletedTask;
    }
}
