namespace OrleansLm.Model.Training.Parallel;

/// <summary>
/// What a replica sends back for one step: the mean loss of its batch part, the part's target count (its weight in the
/// step's mean) and the gradient of that mean loss cut into one slice per parameter shard.
/// </summary>
public sealed record ReplicaGradients(double Loss, long Tokens, float[][] Slices);
