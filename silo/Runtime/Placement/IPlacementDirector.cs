using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Placement;

/// <summary>A grain with no activation anywhere needs one: <paramref name="Strategy"/> is its class's.</summary>
public sealed record PlacementRequest(GrainId GrainId, PlacementStrategy Strategy);

/// <summary>Chooses the silo for a new activation. Throws <see cref="GrainPlacementException"/> when no silo qualifies.</summary>
public interface IPlacementDirector
{
    ValueTask<SiloAddress> PlaceAsync(PlacementRequest request, CancellationToken cancellation);
}

/// <summary>A silo that accepts new activations, with what constraint-based placement needs to know about it.</summary>
public sealed record PlacementCandidate(SiloAddress Silo, IReadOnlyList<string> Roles, int FreeDevices);

/// <summary>
/// The silos placement may choose from (the cluster layer reads them from membership: active silos only); the
/// local implementation is this silo alone.
/// </summary>
public interface IPlacementCandidates
{
    IReadOnlyList<PlacementCandidate> GetCandidates();
}

/// <summary>No silo satisfies the grain class's placement strategy.</summary>
public sealed class GrainPlacementException(string message) : Exception(message);
