using OrleansLm.Runtime.Grains;

namespace OrleansLm.Runtime.Placement;

/// <summary>
/// The placement strategies over a set of candidate silos: random, prefer-local, hash-based, role/device
/// constraints, and stateless workers (always local). The same code serves one silo (candidates = itself) and a
/// cluster (candidates = active members).
/// </summary>
public sealed class PlacementDirector(IPlacementCandidates candidates, ILocalSiloDetails localSilo) : IPlacementDirector
{
    public ValueTask<SiloAddress> PlaceAsync(PlacementRequest request, CancellationToken cancellation) => ValueTask.FromResult(Place(request));

    public SiloAddress Place(PlacementRequest request)
    {
        if (request.Strategy is StatelessWorkerPlacement) return localSilo.Address;
        var all = request.Excluded is { Count: > 0 } excluded
            ? [.. candidates.GetCandidates().Where(c => !excluded.Contains(c.Silo))]
            : candidates.GetCandidates();
        if (all.Count == 0) throw new GrainPlacementException($"no silo accepts new activations; cannot place {request.GrainId}");
        return request.Strategy switch
        {
            RandomPlacement => Random(all).Silo,
            PreferLocalPlacement => all.FirstOrDefault(c => c.Silo == localSilo.Address)?.Silo ?? Random(all).Silo,
            HashBasedPlacement => ByHash(all, request.GrainId),
            SiloRolePlacement constraint => Constrained(all, constraint, request.GrainId),
            _ => throw new NotSupportedException($"placement strategy {request.Strategy} is not supported (grain {request.GrainId})"),
        };
    }

    private static PlacementCandidate Random(IReadOnlyList<PlacementCandidate> all) => all[System.Random.Shared.Next(all.Count)];

    /// <summary>Every silo sorts the candidates alike, so the same hash picks the same silo wherever it is computed.</summary>
    private static SiloAddress ByHash(IReadOnlyList<PlacementCandidate> all, GrainId grainId)
    {
        var sorted = all.Select(c => c.Silo).OrderBy(s => s.ToString(), StringComparer.Ordinal).ToArray();
        return sorted[(int)(grainId.StableHash() % (uint)sorted.Length)];
    }

    private static SiloAddress Constrained(IReadOnlyList<PlacementCandidate> all, SiloRolePlacement constraint, GrainId grainId)
    {
        var matching = all.Where(c => c.Roles.Contains(constraint.Role, StringComparer.Ordinal) && (!constraint.RequiresDevice || c.FreeDevices > 0)).ToArray();
        if (matching.Length == 0)
            throw new GrainPlacementException(
                $"no silo has role '{constraint.Role}'{(constraint.RequiresDevice ? " and a free device" : "")}; cannot place {grainId}");
        return Random(matching).Silo;
    }
}
