using System.Collections.Concurrent;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.GrainDirectory;

/// <summary>The directory of one process: a silo on its own, or several silos in one test process sharing an instance.</summary>
public sealed class InMemoryGrainDirectory : IGrainDirectory
{
    private readonly ConcurrentDictionary<GrainId, SiloAddress> registrations = new();

    public int Count => registrations.Count;

    /// <summary>A moment's copy of every registration.</summary>
    public IReadOnlyList<KeyValuePair<GrainId, SiloAddress>> Registrations => [.. registrations];

    public ValueTask<SiloAddress> RegisterAsync(GrainId grainId, SiloAddress silo, CancellationToken cancellation = default) =>
        ValueTask.FromResult(Register(grainId, silo));

    public ValueTask<SiloAddress?> LookupAsync(GrainId grainId, CancellationToken cancellation = default) =>
        ValueTask.FromResult(Lookup(grainId));

    public ValueTask UnregisterAsync(GrainId grainId, SiloAddress silo, CancellationToken cancellation = default)
    {
        Remove(grainId, silo);
        return ValueTask.CompletedTask;
    }

    public SiloAddress Register(GrainId grainId, SiloAddress silo) => registrations.GetOrAdd(grainId, silo);

    public SiloAddress? Lookup(GrainId grainId) => registrations.TryGetValue(grainId, out var silo) ? silo : null;

    /// <summary>Removes the registration if it still names <paramref name="silo"/>.</summary>
    public void Remove(GrainId grainId, SiloAddress silo) => registrations.TryRemove(KeyValuePair.Create(grainId, silo));
}
