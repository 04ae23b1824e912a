namespace OrleansLm.Runtime.Grains;

/// <summary>Why an activation is being deactivated, passed to <see cref="Grain.OnDeactivateAsync"/>.</summary>
public enum DeactivationReason
{
    /// <summary>No call reached it for the runtime's idle timeout.</summary>
    IdleTimeout,

    /// <summary>The grain asked for it with <see cref="Grain.DeactivateOnIdle"/>.</summary>
    ApplicationRequested,

    /// <summary>Its silo is stopping.</summary>
    ShuttingDown,

    /// <summary>After a membership change the grain directory named another silo's activation: this one was a duplicate.</summary>
    DuplicateActivation,
}
