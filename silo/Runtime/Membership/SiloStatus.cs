namespace OrleansLm.Runtime.Membership;

/// <summary>A member's life cycle, as Orleans' membership protocol: a status only ever moves forward.</summary>
public enum SiloStatus
{
    /// <summary>Inserted, not yet serving; others do not place grains on it.</summary>
    Joining = 1,

    Active = 2,

    /// <summary>Leaving gracefully: finishing or handing off its activations; no new placements.</summary>
    ShuttingDown = 3,

    /// <summary>Declared dead (by votes, or by itself on a graceful exit). A silo that reads itself Dead stops.</summary>
    Dead = 4,
}
