using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Models;

/// <summary>
/// An <see cref="NGramLm"/> behind <see cref="ILanguageModel"/>, so that the generator, beam search and scorer serve
/// n-gram models as they serve the neural families. The logits are log-probabilities, ln P(w | the last Order − 1
/// tokens), so softmax gives P back. A token that unsmoothed maximum likelihood never saw in a context gets
/// P = 0, a logit of −∞, which softmax turns back into 0; no row is all −∞, since every distribution sums to 1.
/// </summary>
public sealed class NGramLanguageModel : ILanguageModel
{
    public NGramLanguageModel(NGramLm model)
    {
        ArgumentNullException.ThrowIfNull(model);
        Model = model;
    }

    public NGramLm Model { get; }

    public int VocabularySize => Model.VocabularySize;

    /// <summary>The distinct grams stored: a count-based model's counterpart of parameters.</summary>
    public long ParameterCount => Model.DistinctGrams;

    /// <summary>
    /// Unlimited: every position reads only its last Order − 1 tokens, however long the sequence. A limit would make
    /// the scorer cut long texts into windows, and the first tokens of a window would lose their history.
    /// </summary>
    public int? ContextLength => null;

    /// <summary>None: counts are not trained by gradients.</summary>
    public IEnumerable<Tensor> Parameters() => [];

    /// <summary>Logits [B, T, V] (Float32, as the neural families') on the device of <paramref name="tokens"/> [B, T].</summary>
    public Tensor Forward(Tensor tokens)
    {
        var (ids, batch, steps) = HostTokens(tokens);
        var logits = new float[batch * steps * VocabularySize];
        for (var b = 0; b < batch; b++)
        {
            var row = ids.AsSpan(b * steps, steps);
            for (var t = 0; t < steps; t++)
                WriteLogProbabilities(row[..(t + 1)], logits.AsSpan((b * steps + t) * VocabularySize, VocabularySize));
        }
        return Tensor.FromArray<float>(logits, [batch, steps, VocabularySize], tokens.Device);
    }

    public Tensor Loss(Tensor tokens, Tensor targets) => NextTokenLoss.Of(this, tokens, targets);

    public IDecodingState BeginDecoding(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1, nameof(batchSize));
        return new NGramDecodingState(batchSize, Model.Order - 1);
    }

    public Tensor Step(IDecodingState state, Tensor tokens)
    {
        var decoding = ModelChecks.DecodingState<NGramDecodingState>(state, tokens, s => s.BatchSize);
        var (ids, batch, steps) = HostTokens(tokens);
        decoding.Advance(ids, steps);
        var logits = new float[batch * VocabularySize];
        for (var b = 0; b < batch; b++)
            WriteLogProbabilities(decoding.History(b), logits.AsSpan(b * VocabularySize, VocabularySize));
        return Tensor.FromArray<float>(logits, [batch, VocabularySize], tokens.Device);   // [B, V]
    }

    /// <summary>None: a prediction is table lookups, no multiply-adds.</summary>
    public double FlopsPerToken(int contextLength) => 0;

    /// <summary>Holds no native memory: the counts live on the managed heap.</summary>
    public void Dispose()
    {
    }

    /// <summary>ln P(w | <paramref name="context"/>) for every w, into <paramref name="logits"/> [V].</summary>
    private void WriteLogProbabilities(ReadOnlySpan<int> context, Span<float> logits)
    {
        var probabilities = Model.Distribution(context);
        for (var w = 0; w < probabilities.Length; w++) logits[w] = (float)Math.Log(probabilities[w]);
    }

    /// <summary>Token ids [B, T] copied to the host, row-major, each checked to lie in the vocabulary.</summary>
    private (int[] Ids, int Batch, int Steps) HostTokens(Tensor tokens)
    {
        ModelChecks.Tokens(tokens, nameof(tokens));
        var ids = tokens.ToArray<long>();
        var host = new int[ids.Length];
        for (var i = 0; i < ids.Length; i++)
            host[i] = (ulong)ids[i] < (ulong)VocabularySize
                ? (int)ids[i]
                : throw new ArgumentOutOfRangeException(nameof(tokens), ids[i], $"token ids lie in [0, {VocabularySize})");
        return (host, (int)tokens.Shape[0], (int)tokens.Shape[1]);
    }
}

/// <summary>An <see cref="NGramLanguageModel"/>'s decoding state: the last Order − 1 tokens of each sequence, on the host.</summary>
public sealed class NGramDecodingState : IDecodingState
{
    private readonly int _historyLength;

    // Each row's history, oldest first. Advance replaces a row's array rather than writing into it, so rows that
    // Select duplicated may share one.
    private int[][] _histories;

    internal NGramDecodingState(int batchSize, int historyLength)
    {
        _historyLength = historyLength;
        _histories = Enumerable.Repeat(Array.Empty<int>(), batchSize).ToArray();
    }

    public int Length { get; private set; }

    internal int BatchSize => _histories.Length;

    public void Select(Tensor rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.DType != ScalarType.Int64 || rows.Dim != 1)
            throw new ArgumentException($"expected Int64 row indices [B'], got {rows.DType} [{string.Join(", ", rows.Shape)}]", nameof(rows));
        var indices = rows.ToArray<long>();
        foreach (var row in indices)
            if ((ulong)row >= (ulong)_histories.Length)
                throw new ArgumentOutOfRangeException(nameof(rows), row, $"the state holds rows [0, {_histories.Length})");
        _histories = [.. indices.Select(row => _histories[row])];
    }

    /// <summary>Holds no native memory.</summary>
    public void Dispose()
    {
    }

    internal ReadOnlySpan<int> History(int row) => _histories[row];

    /// <summary>Appends <paramref name="steps"/> tokens per row (<paramref name="ids"/> row-major [B, steps]) to each history.</summary>
    internal void Advance(int[] ids, int steps)
    {
        for (var b = 0; b < _histories.Length; b++)
        {
            int[] seen = [.. _histories[b], .. ids.AsSpan(b * steps, steps)];
            _histories[b] = seen[Math.Max(0, seen.Length - _historyLength)..];
        }
        Length += steps;
    }
}
