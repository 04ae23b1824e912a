using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Placement;

/// <summary>
/// A grain with no activation anywhere needs one: <paramref name="Strategy"/> is its class's. <paramref name="Excluded"/>
/// are silos that already refused it (no free device left).
/// </summary>
public sealed record PlacementRequest(GrainId GrainId, PlacementStrategy Strategy, IReadOnlySet<SiloAddress>? Excluded = null);

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
public class GrainPlacementException(string message) : Exception(message);

/// <summary>
/// The silo chosen for a device-holding activation has no free device left: another placement took it meanwhile (a
/// placing silo knows only its own devices' use). The caller places the grain again elsewhere.
/// </summary>
public sealed class NoFreeDeviceException(string message) : GrainPlacementException(message);
