using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Decoding;

/// <summary>
/// Reshapes next-token logits [B, V] before a token is picked. A removed token's logit becomes −∞, so softmax gives
/// it probability 0. Each filter returns a new tensor, or its input when it has nothing to do.
/// </summary>
public static class LogitsFilters
{
    /// <summary>
    /// Repetition penalty, temperature, top-k, top-p, in Hugging Face's order. <paramref name="contexts"/> holds each
    /// row's tokens so far. Greedy decoding needs only the penalty: the others never move the argmax.
    /// </summary>
    public static Tensor Apply(Tensor logits, IReadOnlyList<IReadOnlyList<int>> contexts, SamplingOptions options)
    {
        var penalised = RepetitionPenalty(logits, contexts, options.RepetitionPenalty);
        if (options.IsGreedy) return penalised;
        var tempered = options.Temperature == 1 ? penalised : penalised / options.Temperature;
        return TopP(TopK(tempered, options.TopK), options.TopP);
    }

    /// <summary>
    /// CTRL's repetition penalty: for each token in row b's context, a positive logit is divided by
    /// <paramref name="penalty"/> and a negative one multiplied by it, so a penalty above 1 always lowers it.
    /// </summary>
    public static Tensor RepetitionPenalty(Tensor logits, IReadOnlyList<IReadOnlyList<int>> contexts, double penalty)
    {
        var (batch, vocabulary) = RowsAndVocabulary(logits);
        if (contexts.Count != batch)
            throw new ArgumentException($"{contexts.Count} contexts for {batch} rows of logits", nameof(contexts));
        if (penalty == 1) return logits;
        var seen = new bool[batch * vocabulary];
        for (var b = 0; b < batch; b++)
            foreach (var token in contexts[b]) seen[b * vocabulary + token] = true;
        using var scope = DisposeScope.Enter();
        var mask = Tensor.FromArray<bool>(seen, [batch, vocabulary], logits.Device);
        var penalised = Tensor.Where(logits.Lt(0), logits * penalty, logits / penalty);
        return Tensor.Where(mask, penalised, logits).MoveToOuterDisposeScope();
    }

    /// <summary>Keeps each row's <paramref name="k"/> largest logits (and any tied with the k-th); 0 keeps all.</summary>
    public static Tensor TopK(Tensor logits, int k)
    {
        var (_, vocabulary) = RowsAndVocabulary(logits);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        if (k == 0 || k >= vocabulary) return logits;
        using var scope = DisposeScope.Enter();
        var kth = logits.TopK(k).Values.Narrow(-1, k - 1, 1);   // [B, 1]
        return logits.MaskedFill(logits.Lt(kth), double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Nucleus filter (Holtzman et al. 2020): keeps, per row, the smallest set of most likely tokens whose
    /// probability mass is ≥ <paramref name="p"/>; 1 keeps all.
    /// </summary>
    public static Tensor TopP(Tensor logits, double p)
    {
        RowsAndVocabulary(logits);
        if (!(p > 0 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "top_p must lie in (0, 1]");
        if (p == 1) return logits;
        using var scope = DisposeScope.Enter();
        var (sorted, order) = logits.Sort(-1, descending: true);   // [B, V] each
        var probabilities = sorted.Softmax(-1);
        // A token is in the nucleus iff the mass ranked above it is still < p; the first always is.
        var massBefore = probabilities.CumSum(-1) - probabilities;
        var outsideSorted = massBefore.Ge(p);
        var (_, inverse) = order.Sort(-1);   // undoes the sort: outside[b, v] = outsideSorted[b, rank of v]
        var outside = outsideSorted.Gather(-1, inverse);
        return logits.MaskedFill(outside, double.NegativeInfinity).MoveToOuterDisposeScope();
    }

    private static (int Rows, int Vocabulary) RowsAndVocabulary(Tensor logits)
    {
        ArgumentNullException.ThrowIfNull(logits);
        var shape = logits.Shape;
        if (shape.Length != 2) throw new ArgumentException($"logits must be [B, V], got [{string.Join(", ", shape)}]", nameof(logits));
        return ((int)shape[0], (int)shape[1]);
    }
}
