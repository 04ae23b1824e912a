using OrleansLm.Runtime.Activation;

namespace OrleansLm.Runtime.Placement;

/// <summary>A silo on its own: the only candidate is itself, its free devices those no local activation holds.</summary>
internal sealed class LocalPlacementCandidates(ILocalSiloDetails localSilo, Catalog catalog) : IPlacementCandidates
{
    public IReadOnlyList<PlacementCandidate> GetCandidates() =>
        [new PlacementCandidate(catalog.LocalSilo, localSilo.Roles, Math.Max(0, localSilo.Devices - catalog.DeviceActivations))];
}
