using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Decoding;

/// <summary>A token and ln p of it at some position.</summary>
public readonly record struct TokenLogProb(int Token, double LogProb);

/// <summary>
/// The most likely tokens at each position of a sequence, as an API's "top logprobs" reports them next to the
/// token that was chosen or scored. Computed by replaying the sequence through the model's incremental decoding (the
/// prompt at once, then a token at a time), so windows past the context behave as they did when it was generated.
/// </summary>
public static class TokenAlternatives
{
    /// <summary>The most we report per position, as OpenAI's API does.</summary>
    public const int MaxAlternatives = 20;

    /// <summary>
    /// For each position p in [<paramref name="start"/>, sequence length), the <paramref name="count"/> most likely tokens
    /// given sequence[..p], most likely first, with ln p under the model itself.
    /// </summary>
    public static IReadOnlyList<IReadOnlyList<TokenLogProb>> Compute(ILanguageModel model, IReadOnlyList<int> sequence, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(model);
        Checked.Tokens(sequence, model.VocabularySize, 1, nameof(sequence));
        if (start < 1 || start > sequence.Count)
            throw new ArgumentOutOfRangeException(nameof(start), start, $"start must lie in [1, {sequence.Count}]: position 0 has no context");
        if (count is < 1 or > MaxAlternatives)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"count must lie in [1, {MaxAlternatives}]");
        var k = Math.Min(count, model.VocabularySize);
        var device = TokenTensors.DeviceOf(model);
        var result = new List<IReadOnlyList<TokenLogProb>>(sequence.Count - start);
        using var noGrad = LibTorch.NoGrad();
        using var state = model.BeginDecoding(1);
        for (var position = start; position < sequence.Count; position++)
        {
            using var scope = DisposeScope.Enter();
            var input = position == start
                ? TokenTensors.Of(sequence.Take(start), [1, start], device)
                : TokenTensors.Of([sequence[position - 1]], [1, 1], device);
            var logProbs = model.Step(state, input).To(ScalarType.Float64).LogSoftmax(-1);   // [1, V]
            var (values, indices) = logProbs.TopK(k);                                          // [1, k] each
            var ids = indices.ToArray<long>();
            var lnP = values.ToArray<double>();
            result.Add([.. ids.Select((id, i) => new TokenLogProb((int)id, lnP[i]))]);
        }
        return result;
    }
}
