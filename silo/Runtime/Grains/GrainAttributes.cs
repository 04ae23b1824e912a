namespace OrleansLm.Runtime.Grains;

/// <summary>
/// Calls to this grain class may interleave at their awaits: a new call can start while another one waits. The
/// activation still runs one piece of code at a time (its turns never run in parallel), so its state needs no locks.
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class ReentrantAttribute : Attribute;

/// <summary>
/// The grain keeps no state between calls, so each silo runs its own pool of activations per key, up to
/// <see cref="MaxLocalWorkers"/>, adding one when every worker is busy. Workers are always local to the calling silo
/// and never registered in the grain directory. Each worker takes one call at a time unless the class is also [Reentrant].
/// </summary>
[AttributeUsage(AttributeTargets.Class, Inherited = true)]
public sealed class StatelessWorkerAttribute(int maxLocalWorkers = 0) : Attribute
{
    /// <summary>The pool's size limit per silo and key; 0 means one worker per processor.</summary>
    public int MaxLocalWorkers { get; } = maxLocalWorkers;
}
