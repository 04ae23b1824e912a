namespace OrleansLm.Runtime.Cluster;

/// <summary>
/// Silos placed on a 64-bit ring at <see cref="VirtualNodes"/> points each; a key belongs to the first silo point at
/// or after its hash. When a silo joins or leaves, only the keys between its points and their predecessors move,
/// which keeps the grain directory's partitions stable across membership change.
/// </summary>
public sealed class ConsistentHashRing
{
    public const int VirtualNodes = 30;

    private readonly ulong[] points;
    private readonly SiloAddress[] owners;

    public ConsistentHashRing(IEnumerable<SiloAddress> silos)
    {
        var placed = silos.Distinct()
            .SelectMany(silo => Enumerable.Range(0, VirtualNodes).Select(i => (Point: StableHash.Of($"{silo}#{i}"), Silo: silo)))
            .OrderBy(p => p.Point).ThenBy(p => p.Silo.ToString(), StringComparer.Ordinal)
            .ToArray();
        points = [.. placed.Select(p => p.Point)];
        owners = [.. placed.Select(p => p.Silo)];
        Members = [.. owners.Distinct().OrderBy(s => s.ToString(), StringComparer.Ordinal)];
    }

    /// <summary>The silos on the ring, in a stable order.</summary>
    public IReadOnlyList<SiloAddress> Members { get; }

    /// <summary>The silo owning <paramref name="key"/>; null on an empty ring.</summary>
    public SiloAddress? Owner(string key)
    {
        if (points.Length == 0) return null;
        var index = Array.BinarySearch(points, StableHash.Of(key));
        if (index < 0) index = ~index;
        return owners[index == points.Length ? 0 : index];
    }
}
