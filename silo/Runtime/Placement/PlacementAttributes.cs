namespace OrleansLm.Runtime.Placement;

/// <summary>Chooses a grain class's <see cref="PlacementStrategy"/>; a class carries at most one.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public abstract class PlacementAttribute : Attribute
{
    public abstract PlacementStrategy Strategy { get; }
}

public sealed class RandomPlacementAttribute : PlacementAttribute
{
    public override PlacementStrategy Strategy => RandomPlacement.Instance;
}

public sealed class PreferLocalPlacementAttribute : PlacementAttribute
{
    public override PlacementStrategy Strategy => PreferLocalPlacement.Instance;
}

public sealed class HashBasedPlacementAttribute : PlacementAttribute
{
    public override PlacementStrategy Strategy => HashBasedPlacement.Instance;
}

/// <summary>Places the grain only on silos with <paramref name="role"/> (and a free device when <see cref="RequiresDevice"/>).</summary>
public sealed class SiloRoleConstraintAttribute(string role) : PlacementAttribute
{
    public string Role { get; } = !string.IsNullOrWhiteSpace(role) ? role : throw new ArgumentException("a silo role cannot be empty", nameof(role));

    /// <summary>The activation holds one of the silo's devices while it lives.</summary>
    public bool RequiresDevice { get; init; }

    public override PlacementStrategy Strategy => new SiloRolePlacement(Role, RequiresDevice);
}
