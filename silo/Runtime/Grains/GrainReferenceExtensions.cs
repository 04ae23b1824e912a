using OrleansLm.Runtime.Invocation;

namespace OrleansLm.Runtime.Grains;

public static class GrainReferenceExtensions
{
    /// <summary>The id of the grain a reference names.</summary>
    public static GrainId GetGrainId(this IGrain grain) =>
        grain is GrainReference reference ? reference.GrainId : throw new ArgumentException($"{grain.GetType().Name} is not a grain reference", nameof(grain));
}
