namespace OrleansLm.Runtime.Hosting;

/// <summary>Settings of a silo's grain runtime (configuration section "GrainRuntime").</summary>
public sealed class GrainRuntimeOptions
{
    public const string Section = "GrainRuntime";

    /// <summary>A call that has no response within this time fails with a TimeoutException naming the grain and method.</summary>
    public TimeSpan CallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>An activation no call reached for this long is deactivated.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often the collector looks for idle activations; an idle one lives up to IdleTimeout + CollectionQuantum.</summary>
    public TimeSpan CollectionQuantum { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>How long OnDeactivateAsync may run before the runtime moves on without it.</summary>
    public TimeSpan DeactivationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws naming the first option out of range.</summary>
    public void Validate()
    {
        Positive(CallTimeout, nameof(CallTimeout));
        Positive(IdleTimeout, nameof(IdleTimeout));
        Positive(CollectionQuantum, nameof(CollectionQuantum));
        Positive(DeactivationTimeout, nameof(DeactivationTimeout));
    }

    private static void Positive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero || value.TotalMilliseconds > int.MaxValue)
            throw new ArgumentOutOfRangeException($"{Section}:{name}", value, $"{Section}:{name} must be positive and at most {int.MaxValue} ms");
    }
}
