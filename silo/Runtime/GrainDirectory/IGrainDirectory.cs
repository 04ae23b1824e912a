using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.GrainDirectory;

/// <summary>
/// Which silo holds each grain's activation. Registration is first-wins: of several silos registering one grain
/// concurrently, all get the same winner back, and only the winner activates it; the others forward their calls
/// there. Stateless workers are never registered. The local implementation is <see cref="InMemoryGrainDirectory"/>;
/// the cluster layer distributes it over the live silos.
/// </summary>
public interface IGrainDirectory
{
    /// <summary>Registers <paramref name="silo"/> for <paramref name="grainId"/> unless a silo already is; returns the registered silo.</summary>
    ValueTask<SiloAddress> RegisterAsync(GrainId grainId, SiloAddress silo, CancellationToken cancellation = default);

    ValueTask<SiloAddress?> LookupAsync(GrainId grainId, CancellationToken cancellation = default);

    /// <summary>Removes the registration if it still names <paramref name="silo"/> (a newer one by another silo stays).</summary>
    ValueTask UnregisterAsync(GrainId grainId, SiloAddress silo, CancellationToken cancellation = default);
}
