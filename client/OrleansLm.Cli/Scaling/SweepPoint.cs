using System.Text.Json.Serialization;

namespace OrleansLm.Cli.Scaling;

/// <summary>One run of a sweep as sweep.json records it, once it has ended.</summary>
/// <param name="Model">The name of the sweep's model override the run used.</param>
/// <param name="Steps">The run's training steps, as the sweep set them.</param>
/// <param name="Parameters">N: the model's parameters, embeddings included.</param>
/// <param name="Tokens">D: the tokens the run trained on.</param>
/// <param name="FlopsPerToken">Training FLOPs per token, forward and backward, attention included (≈ 6·N + the attention term).</param>
/// <param name="Compute">C = flops_per_token · tokens.</param>
/// <param name="FinalValidationLoss">The validation loss after the last step (nats per token); null when the run failed before it.</param>
/// <param name="State">The state the run ended in: completed, failed or stopped.</param>
/// <param name="Error">Why the point failed, when it did.</param>
public sealed record SweepPoint(
    string RunId,
    string Model,
    long Steps,
    long Parameters,
    long Tokens,
    double FlopsPerToken,
    double Compute,
    double? FinalValidationLoss,
    string State,
    string? Error = null)
{
    public const string Completed = "completed";

    [JsonIgnore]
    public bool IsCompleted => State == Completed;
}
