using System.Text.Json;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>
/// How a safetensors checkpoint holds an optimizer's state: its tensors named "optimizer.{index}.{state}", and its
/// per-parameter step counts as a JSON list under a metadata key of the file's choosing. The trainer's checkpoints and
/// the parameter-server shards' files both use it.
/// </summary>
internal static class OptimizerStateEntries
{
    private const string TensorPrefix = "optimizer.";

    public static void Add(OptimizerState state, IDictionary<string, Tensor> tensors, IDictionary<string, string> metadata, string stepsKey)
    {
        foreach (var (name, tensor) in state.Tensors) tensors[TensorPrefix + name] = tensor;
        metadata[stepsKey] = JsonSerializer.Serialize(state.Steps);
    }

    /// <param name="invalid">Makes the exception for a missing or malformed step list from its reason, in the caller's words.</param>
    public static OptimizerState Read(
        IReadOnlyDictionary<string, Tensor> tensors, IReadOnlyDictionary<string, string> metadata, string stepsKey, Func<string, Exception> invalid)
    {
        long[] steps;
        try
        {
            steps = JsonSerializer.Deserialize<long[]>(metadata.GetValueOrDefault(stepsKey, "null")) ?? throw invalid($"metadata '{stepsKey}' is missing");
        }
        catch (JsonException e)
        {
            throw invalid($"metadata '{stepsKey}' is not a list of step counts: {e.Message}");
        }
        return new OptimizerState(WithPrefix(tensors, TensorPrefix), steps);
    }

    /// <summary>The tensors whose names start with <paramref name="prefix"/>, by the rest of their names.</summary>
    public static Dictionary<string, Tensor> WithPrefix(IReadOnlyDictionary<string, Tensor> tensors, string prefix) =>
        tensors.Where(p => p.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(p => p.Key[prefix.Length..], p => p.Value);
}
