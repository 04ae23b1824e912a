namespace OrleansLm.Runtime;

/// <summary>A call could not reach <see cref="Silo"/>: it is dead, unreachable, or a newer incarnation answered.</summary>
public sealed class SiloUnavailableException(SiloAddress silo, string reason, Exception? inner = null)
    : Exception($"silo {silo} is unavailable: {reason}", inner)
{
    public SiloAddress Silo { get; } = silo;
}
