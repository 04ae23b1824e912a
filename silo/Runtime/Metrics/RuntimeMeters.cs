namespace OrleansLm.Runtime.Metrics;

/// <summary>The meter the grain runtime's instruments are published on; a silo's metrics endpoint listens to it.</summary>
public static class RuntimeMeters
{
    public const string Name = "OrleansLm.Runtime";
}
