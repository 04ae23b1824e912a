using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Decoding;

/// <summary>
/// How surprised a model is by a sequence. <paramref name="Surprisal"/>[t] = −ln p(x_{t+1} | x_{≤t}) for every
/// token after the first, in nats, the unit of the cross-entropy loss (so a mean surprisal is directly comparable
/// with a training or validation loss); the *Bits members divide by ln 2.
/// </summary>
public sealed record SequenceScore(IReadOnlyList<double> Surprisal)
{
    public IReadOnlyList<double> SurprisalBits => [.. Surprisal.Select(s => s / Math.Log(2))];

    /// <summary>ln p(x_2, …, x_T | x_1) = −Σ surprisal.</summary>
    public double LogProbability => -Surprisal.Sum();

    public double AverageSurprisal => Surprisal.Average();

    public double AverageSurprisalBits => AverageSurprisal / Math.Log(2);

    /// <summary>exp(average surprisal in nats): the size of a uniform choice that would be as surprising.</summary>
    public double Perplexity => Math.Exp(AverageSurprisal);

    /// <summary>All the tokens of several scores as one, so a corpus's perplexity weights every token equally.</summary>
    public static SequenceScore Pool(IEnumerable<SequenceScore> scores) => new([.. scores.SelectMany(s => s.Surprisal)]);
}

/// <summary>Scores sequences by teacher forcing: one <see cref="ILanguageModel.Forward"/> per batch of sequences.</summary>
public static class Scorer
{
    public static SequenceScore Score(ILanguageModel model, IReadOnlyList<int> sequence) => Score(model, [sequence])[0];

    /// <summary>
    /// Scores each sequence (at least two tokens). Sequences of a batch are padded at the end to the longest;
    /// the model predicts left to right, so padding never reaches a real position and is ignored in the loss.
    /// </summary>
    public static IReadOnlyList<SequenceScore> Score(ILanguageModel model, IReadOnlyList<IReadOnlyList<int>> sequences, int batchSize = 16)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sequences);
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        for (var i = 0; i < sequences.Count; i++) Checked.Tokens(sequences[i], model.VocabularySize, 2, $"{nameof(sequences)}[{i}]");

        if (model.ContextLength is { } context && sequences.Any(sequence => sequence.Count > context + 1))
            return ScoreInWindows(model, sequences, context, batchSize);

        const int ignored = -100;
        var device = TokenTensors.DeviceOf(model);
        var scores = new List<SequenceScore>(sequences.Count);
        using var noGrad = LibTorch.NoGrad();
        foreach (var batch in sequences.Chunk(batchSize))
        {
            using var scope = DisposeScope.Enter();
            var steps = batch.Max(s => s.Count) - 1;   // T − 1 predictions for the longest sequence
            var inputs = batch.SelectMany(s => s.Take(s.Count - 1).Concat(Enumerable.Repeat(0, steps - (s.Count - 1))));
            var targets = batch.SelectMany(s => s.Skip(1).Concat(Enumerable.Repeat(ignored, steps - (s.Count - 1))));
            var logits = model.Forward(TokenTensors.Of(inputs, [batch.Length, steps], device));   // [B, T − 1, V]
            // In the model's own precision: a float64 copy of [B, T − 1, V] logits would double their memory.
            var surprisal = Functional.CrossEntropy(
                logits.Reshape(-1, model.VocabularySize),
                TokenTensors.Of(targets, [batch.Length * steps], device),
                Reduction.None,
                ignoreIndex: ignored).To(ScalarType.Float64).ToArray<double>();   // [B · (T − 1)]
            for (var b = 0; b < batch.Length; b++)
                scores.Add(new SequenceScore(surprisal[(b * steps)..(b * steps + batch[b].Count - 1)]));
        }
        return scores;
    }

    /// <summary>
    /// Sequences longer than the model's context are scored in windows of context + 1 tokens that advance by
    /// half a context: each token is scored once, in the first window that predicts it with at least half a
    /// context before it (the first window scores all of its tokens).
    /// </summary>
    private static IReadOnlyList<SequenceScore> ScoreInWindows(ILanguageModel model, IReadOnlyList<IReadOnlyList<int>> sequences, int context, int batchSize)
    {
        var stride = Math.Max(1, context / 2);
        var windows = new List<IReadOnlyList<int>>();
        var plan = new List<(int Sequence, int Skip)>();
        for (var i = 0; i < sequences.Count; i++)
        {
            var sequence = sequences[i];
            var scored = 0;   // tokens 1..scored already have a surprisal
            for (var start = 0; scored < sequence.Count - 1; start += stride)
            {
                var end = Math.Min(start + context + 1, sequence.Count);
                windows.Add([.. sequence.Skip(start).Take(end - start)]);
                plan.Add((i, scored - start));
                scored = end - 1;
            }
        }
        var windowScores = Score(model, windows, batchSize);
        return [.. Enumerable.Range(0, sequences.Count).Select(i => new SequenceScore([.. plan
            .Select((p, w) => (p, w))
            .Where(x => x.p.Sequence == i)
            .SelectMany(x => windowScores[x.w].Surprisal.Skip(x.p.Skip))]))];
    }
}
