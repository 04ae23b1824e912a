namespace OrleansLm.Runtime.Placement;

/// <summary>
/// Where a new activation of a grain class may go; read off the class's placement attribute (default
/// <see cref="RandomPlacement"/>) and handed to <see cref="IPlacementDirector"/> with the grain's id.
/// </summary>
public abstract record PlacementStrategy
{
    /// <summary>What a grain class without a placement attribute gets.</summary>
    public static PlacementStrategy Default => RandomPlacement.Instance;
}

/// <summary>Any compatible silo, chosen uniformly at random.</summary>
public sealed record RandomPlacement : PlacementStrategy
{
    public static RandomPlacement Instance { get; } = new();
}

/// <summary>The calling silo when it is compatible, otherwise a random one.</summary>
public sealed record PreferLocalPlacement : PlacementStrategy
{
    public static PreferLocalPlacement Instance { get; } = new();
}

/// <summary>The silo the grain id's stable hash picks among the compatible silos, so every silo picks the same one.</summary>
public sealed record HashBasedPlacement : PlacementStrategy
{
    public static HashBasedPlacement Instance { get; } = new();
}

/// <summary>A random silo that has <paramref name="Role"/> and, when <paramref name="RequiresDevice"/>, a free device.</summary>
public sealed record SiloRolePlacement(string Role, bool RequiresDevice) : PlacementStrategy;

/// <summary>
/// A stateless worker: always on the calling silo, never in the grain directory, a pool of up to
/// <paramref name="MaxLocalWorkers"/> activations per key.
/// </summary>
public sealed record StatelessWorkerPlacement(int MaxLocalWorkers) : PlacementStrategy;
