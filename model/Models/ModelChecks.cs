using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Models;

/// <summary>Argument checks shared by the model families, so bad configs and inputs fail with the field's name.</summary>
internal static class ModelChecks
{
    public static void AtLeast(long value, long minimum, string config, string field)
    {
        if (value < minimum)
            throw new ArgumentOutOfRangeException(field, value, $"{config}.{field} must be at least {minimum}");
    }

    public static void Probability(double value, string config, string field)
    {
        if (value is not (>= 0 and < 1))
            throw new ArgumentOutOfRangeException(field, value, $"{config}.{field} must be in [0, 1)");
    }

    /// <summary>Token ids must be Int64 [B, T] with T ≥ 1.</summary>
    public static void Tokens(Tensor tokens, string parameter)
    {
        if (tokens.DType != ScalarType.Int64 || tokens.Dim != 2 || tokens.Shape[1] < 1)
            throw new ArgumentException(
                $"expected Int64 token ids [B, T ≥ 1], got {tokens.DType} [{string.Join(", ", tokens.Shape)}]", parameter);
    }

    /// <summary>The decoding state must be this model's own kind, for the batch it was begun with.</summary>
    public static T DecodingState<T>(IDecodingState state, Tensor tokens, Func<T, long> batchSize) where T : class, IDecodingState
    {
        var own = state as T ?? throw new ArgumentException(
            $"expected a {typeof(T).Name} from this model's BeginDecoding, got {state.GetType().Name}", nameof(state));
        Tokens(tokens, nameof(tokens));
        if (tokens.Shape[0] != batchSize(own))
            throw new ArgumentException($"the state holds {batchSize(own)} sequences but {tokens.Shape[0]} rows of tokens were given", nameof(tokens));
        return own;
    }
}
