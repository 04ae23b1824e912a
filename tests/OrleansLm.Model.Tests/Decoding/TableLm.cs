using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests.Decoding;

/// <summary>
/// A language model whose next-token logits are one row of a [V, V] table, picked by a key of the history: the
/// last token (a bigram model), or the sum of all tokens so far mod V. The second makes the decoding state matter,
/// so a decoder that reorders rows wrongly (or not at all) gets different logits than <see cref="Forward"/>.
/// </summary>
internal sealed class TableLm : ILanguageModel
{
    private readonly Tensor table;   // [V, V] float32, as a real model's logits
    private readonly float[] hostTable;
    private readonly bool keyedBySum;

    public TableLm(float[,] logits, bool keyedBySum = false)
    {
        var v = logits.GetLength(0);
        if (logits.GetLength(1) != v) throw new ArgumentException("the table must be square", nameof(logits));
        VocabularySize = v;
        hostTable = [.. logits.Cast<float>()];
        table = Tensor.FromArray<float>(hostTable, [v, v]).DetachFromDisposeScope();
        this.keyedBySum = keyedBySum;
    }

    /// <summary>Every token equally likely after every history.</summary>
    public static TableLm Uniform(int vocabulary) => new(new float[vocabulary, vocabulary]);

    /// <summary>Logits drawn uniformly from [−scale, scale] with a seeded host generator.</summary>
    public static TableLm Random(int vocabulary, int seed, bool keyedBySum = false, double scale = 3)
    {
        var random = new Random(seed);
        var logits = new float[vocabulary, vocabulary];
        for (var i = 0; i < vocabulary; i++)
            for (var j = 0; j < vocabulary; j++) logits[i, j] = (float)((2 * random.NextDouble() - 1) * scale);
        return new TableLm(logits, keyedBySum);
    }

    /// <summary>A bigram model whose rows are the logs of the given next-token probabilities.</summary>
    public static TableLm FromProbabilities(double[,] probabilities)
    {
        var v = probabilities.GetLength(0);
        var logits = new float[v, v];
        for (var i = 0; i < v; i++)
            for (var j = 0; j < v; j++) logits[i, j] = (float)Math.Log(probabilities[i, j]);
        return new TableLm(logits);
    }

    public int VocabularySize { get; }

    public int? ContextLength => null;

    public long ParameterCount => table.NumElements;

    public IEnumerable<Tensor> Parameters() => [table];

    public Tensor Forward(Tensor tokens)
    {
        var shape = tokens.Shape;   // [B, T]
        var ids = tokens.ToArray<long>();
        var keys = new long[ids.Length];
        for (var b = 0; b < shape[0]; b++)
        {
            long key = 0;
            for (var t = 0; t < shape[1]; t++)
            {
                var i = b * (int)shape[1] + t;
                key = Fold(key, ids[i]);
                keys[i] = key;
            }
        }
        using var keyTensor = Tensor.FromArray<long>(keys, shape);
        return Functional.Embedding(table, keyTensor);   // [B, T, V]
    }

    public Tensor Loss(Tensor tokens, Tensor targets)
    {
        using var scope = DisposeScope.Enter();
        return Functional.CrossEntropy(Forward(tokens).Reshape(-1, VocabularySize), targets.Reshape(-1)).MoveToOuterDisposeScope();
    }

    public IDecodingState BeginDecoding(int batchSize) => new State(batchSize);

    public Tensor Step(IDecodingState state, Tensor tokens)
    {
        var s = (State)state;
        var shape = tokens.Shape;   // [B, T]
        if (shape[0] != s.Keys.Length) throw new ArgumentException($"{shape[0]} rows fed to a state of {s.Keys.Length}", nameof(tokens));
        var ids = tokens.ToArray<long>();
        for (var b = 0; b < s.Keys.Length; b++)
            for (var t = 0; t < shape[1]; t++) s.Keys[b] = Fold(s.Keys[b], ids[b * (int)shape[1] + t]);
        s.Length += (int)shape[1];
        using var keyTensor = Tensor.FromArray<long>(s.Keys, [s.Keys.Length]);
        return Functional.Embedding(table, keyTensor);   // [B, V]
    }

    /// <summary>A table lookup has no multiply-adds.</summary>
    public double FlopsPerToken(int contextLength) => 0;

    /// <summary>ln p(· | history), computed on the host in float64 from the table: the reference for the tests.</summary>
    public double[] NextTokenLogProbs(IReadOnlyList<int> history)
    {
        long key = 0;
        foreach (var token in history) key = Fold(key, token);
        var row = hostTable.AsSpan((int)key * VocabularySize, VocabularySize).ToArray().Select(x => (double)x).ToArray();
        var max = row.Max();
        var logNormaliser = max + Math.Log(row.Sum(x => Math.Exp(x - max)));
        return [.. row.Select(x => x - logNormaliser)];
    }

    /// <summary>ln p(continuation | prompt) by the chain rule over <see cref="NextTokenLogProbs"/>.</summary>
    public double LogProbability(IReadOnlyList<int> prompt, IReadOnlyList<int> continuation)
    {
        var history = prompt.ToList();
        var total = 0.0;
        foreach (var token in continuation)
        {
            total += NextTokenLogProbs(history)[token];
            history.Add(token);
        }
        return total;
    }

    public void Dispose() => table.Dispose();

    private long Fold(long key, long token) => keyedBySum ? (key + token) % VocabularySize : token;

    private sealed class State(int batchSize) : IDecodingState
    {
        public long[] Keys { get; private set; } = new long[batchSize];

        public int Length { get; set; }

        public void Select(Tensor rows) => Keys = [.. rows.ToArray<long>().Select(r => Keys[r])];

        public void Dispose()
        {
        }
    }
}
