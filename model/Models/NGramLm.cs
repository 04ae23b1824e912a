using System.Runtime.InteropServices;
using OrleansLm.Model.IO;

namespace OrleansLm.Model.Models;

public enum NGramSmoothing
{
    /// <summary>P(w | h) = c(h w) / c(h •); a context never seen falls back to its longest seen suffix.</summary>
    MaximumLikelihood = 1,

    /// <summary>P(w | h) = (c(h w) + k) / (c(h •) + k V): Laplace's rule when k = 1.</summary>
    AddK = 2,

    /// <summary>Interpolated Kneser-Ney with one discount D (Chen &amp; Goodman 1998), down to the uniform 1/V.</summary>
    KneserNey = 3,
}

/// <summary>
/// A count-based n-gram language model over token ids: the probability of a token given the previous
/// <c>Order − 1</c> (fewer at the start of a sequence), from <see cref="NGramCounts"/> under one smoothing.
/// <para>
/// Kneser-Ney (interpolated, Chen &amp; Goodman's eq. 17 with continuation counts):
/// P(w | h) = max(c(h w) − D, 0) / c(h •) + D · N1+(h •) / c(h •) · P(w | h′),
/// where h′ drops h's oldest token. The highest order uses raw counts c; every lower order uses the
/// continuation count N1+(• h w), the number of distinct tokens seen before h w, in place of c; below the
/// unigrams lies the uniform 1/V. A context with no counts passes the lower order's estimate through.
/// </para>
/// </summary>
public sealed class NGramLm
{
    private readonly NGramCounts _counts;
    private readonly Level[] _raw;
    private readonly Level[] _continuation;
    private readonly int[] _everyToken;

    private NGramLm(NGramCounts counts, NGramSmoothing smoothing, double parameter)
    {
        ArgumentNullException.ThrowIfNull(counts);
        switch (smoothing)
        {
            case NGramSmoothing.MaximumLikelihood: break;
            case NGramSmoothing.AddK when !(parameter > 0 && double.IsFinite(parameter)):
                throw new ArgumentOutOfRangeException("k", parameter, "add-k smoothing needs a finite k > 0");
            case NGramSmoothing.KneserNey when !(parameter > 0 && parameter <= 1):
                // With D ≤ 1 every seen gram (count ≥ 1) loses exactly D, which keeps each order normalized.
                throw new ArgumentOutOfRangeException("discount", parameter, "the Kneser-Ney discount must lie in (0, 1]");
            case NGramSmoothing.AddK or NGramSmoothing.KneserNey: break;
            default: throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "unknown smoothing");
        }
        // A private copy: later Add or Merge calls on the caller's counts must not change this model.
        _counts = counts.Clone();
        Smoothing = smoothing;
        Parameter = smoothing == NGramSmoothing.MaximumLikelihood ? 0 : parameter;
        _raw = Enumerable.Range(1, Order).Select(k => new Level(_counts.Table(k))).ToArray();
        _continuation = smoothing == NGramSmoothing.KneserNey
            ? Enumerable.Range(1, Order - 1).Select(k => new Level(ContinuationCounts(_counts.Table(k + 1), k))).ToArray()
            : [];
        _everyToken = Enumerable.Range(0, VocabularySize).ToArray();
    }

    public static NGramLm MaximumLikelihood(NGramCounts counts) => new(counts, NGramSmoothing.MaximumLikelihood, 0);

    public static NGramLm AddK(NGramCounts counts, double k = 1) => new(counts, NGramSmoothing.AddK, k);

    public static NGramLm KneserNey(NGramCounts counts, double discount = 0.75) => new(counts, NGramSmoothing.KneserNey, discount);

    public int Order => _counts.Order;

    public int VocabularySize => _counts.VocabularySize;

    public NGramSmoothing Smoothing { get; }

    /// <summary>k for add-k, D for Kneser-Ney, 0 for maximum likelihood.</summary>
    public double Parameter { get; }

    /// <inheritdoc cref="NGramCounts.DistinctGrams"/>
    public long DistinctGrams => _counts.DistinctGrams;

    /// <summary>P(<paramref name="token"/> | the last Order − 1 tokens of <paramref name="context"/>).</summary>
    public double Probability(ReadOnlySpan<int> context, int token)
    {
        if ((uint)token >= (uint)VocabularySize)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"tokens lie in [0, {VocabularySize})");
        Span<double> probability = stackalloc double[1];
        Estimate(context, [token], probability);
        return probability[0];
    }

    /// <summary>P(w | context) for every token w, a vector summing to 1.</summary>
    public double[] Distribution(ReadOnlySpan<int> context)
    {
        var probabilities = new double[VocabularySize];
        Estimate(context, _everyToken, probabilities);
        return probabilities;
    }

    /// <summary>Mean −ln P(tᵢ | t₍ᵢ₋ₙ₊₁₎ … tᵢ₋₁) over every token of <paramref name="tokens"/>, in nats (the neural models' loss).</summary>
    public double CrossEntropy(ReadOnlySpan<int> tokens)
    {
        if (tokens.IsEmpty) throw new ArgumentException("no tokens to score", nameof(tokens));
        var sum = 0.0;
        for (var i = 0; i < tokens.Length; i++)
            sum -= Math.Log(Probability(tokens[Math.Max(0, i - Order + 1)..i], tokens[i]));
        return sum / tokens.Length;
    }

    /// <summary>exp(<see cref="CrossEntropy"/>); infinite when some token has probability 0 (unsmoothed MLE).</summary>
    public double Perplexity(ReadOnlySpan<int> tokens) => Math.Exp(CrossEntropy(tokens));

    /// <summary>Samples <paramref name="count"/> tokens after <paramref name="prompt"/>, each from P(· | what precedes it).</summary>
    public int[] Generate(ReadOnlySpan<int> prompt, int count, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentNullException.ThrowIfNull(random);
        var sequence = new List<int>(prompt.Length + count);
        sequence.AddRange(prompt);
        for (var i = 0; i < count; i++)
        {
            var context = CollectionsMarshal.AsSpan(sequence);
            sequence.Add(Draw(Distribution(context[Math.Max(0, context.Length - Order + 1)..]), random));
        }
        return sequence.Skip(prompt.Length).ToArray();
    }

    public void Save(Stream stream) => NGramFile.Write(stream, _counts, (byte)Smoothing, Parameter);

    /// <summary>Writes the model to <paramref name="path"/> atomically (a temporary file renamed over it).</summary>
    public void Save(string path) => AtomicFile.Write(path, Save);

    /// <exception cref="InvalidDataException">The file is not an n-gram model, or is truncated or corrupt.</exception>
    public static NGramLm Load(Stream stream)
    {
        var (counts, smoothing, parameter) = NGramFile.Read(stream);
        if (smoothing == NGramFile.CountsOnly)
            throw new InvalidDataException("n-gram file holds counts only; load it with NGramCounts.Load and choose a smoothing");
        if (!Enum.IsDefined((NGramSmoothing)smoothing))
            throw new InvalidDataException($"n-gram file field 'smoothing' is {smoothing}, which names no smoothing");
        try
        {
            return new NGramLm(counts, (NGramSmoothing)smoothing, parameter);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new InvalidDataException($"n-gram file field 'parameter': {e.Message}", e);
        }
    }

    /// <exception cref="InvalidDataException">The file is not an n-gram model, or is truncated or corrupt; the message names it.</exception>
    public static NGramLm Load(string path) => NGramFile.Load(path, Load);

    /// <summary>Fills <paramref name="probabilities"/>[i] with P(<paramref name="tokens"/>[i] | context), order by order from the uniform up.</summary>
    private void Estimate(ReadOnlySpan<int> context, ReadOnlySpan<int> tokens, Span<double> probabilities)
    {
        var history = context[Math.Max(0, context.Length - Order + 1)..];
        foreach (var id in history)
            if ((uint)id >= (uint)VocabularySize)
                throw new ArgumentOutOfRangeException(nameof(context), id, $"tokens lie in [0, {VocabularySize})");
        var top = history.Length + 1;
        if (Smoothing == NGramSmoothing.AddK)
        {
            var h = NGramCounts.Pack(history);
            var (total, _) = _raw[top - 1].Context(h);
            for (var i = 0; i < tokens.Length; i++)
                probabilities[i] = (_raw[top - 1].Count(h, tokens[i]) + Parameter) / (total + Parameter * VocabularySize);
            return;
        }
        probabilities.Fill(1.0 / VocabularySize);
        for (var k = 1; k <= top; k++)
        {
            var level = Smoothing == NGramSmoothing.KneserNey && k < top ? _continuation[k - 1] : _raw[k - 1];
            var h = NGramCounts.Pack(history[^(k - 1)..]);
            var (total, types) = level.Context(h);
            if (total == 0) continue;
            for (var i = 0; i < tokens.Length; i++)
            {
                double c = level.Count(h, tokens[i]);
                probabilities[i] = Smoothing == NGramSmoothing.KneserNey
                    ? (Math.Max(c - Parameter, 0) + Parameter * types * probabilities[i]) / total
                    : c / total;
            }
        }
    }

    private static int Draw(double[] probabilities, Random random)
    {
        var u = random.NextDouble() * probabilities.Sum();
        var last = 0;
        for (var w = 0; w < probabilities.Length; w++)
        {
            if (probabilities[w] == 0) continue;
            last = w;
            if ((u -= probabilities[w]) < 0) return w;
        }
        return last; // u landed past the sum by rounding
    }

    /// <summary>N1+(• g) for every k-gram g: how many distinct tokens precede it, from the (k+1)-gram table.</summary>
    private static Dictionary<UInt128, long> ContinuationCounts(IReadOnlyDictionary<UInt128, long> longer, int k)
    {
        var suffixMask = (UInt128.One << (NGramCounts.BitsPerToken * k)) - 1;
        var continuation = new Dictionary<UInt128, long>();
        foreach (var key in longer.Keys)
            CollectionsMarshal.GetValueRefOrAddDefault(continuation, key & suffixMask, out _)++;
        return continuation;
    }

    /// <summary>One order's counts c(h w) with, per context h, c(h •) = Σ_w c(h w) and N1+(h •) = #{w : c(h w) > 0}.</summary>
    private sealed class Level
    {
        private readonly IReadOnlyDictionary<UInt128, long> _counts;
        private readonly Dictionary<UInt128, (long Total, int Types)> _contexts = new();

        public Level(IReadOnlyDictionary<UInt128, long> counts)
        {
            _counts = counts;
            foreach (var (key, count) in counts)
            {
                ref var context = ref CollectionsMarshal.GetValueRefOrAddDefault(
                    _contexts, key >> NGramCounts.BitsPerToken, out _);
                context = (context.Total + count, context.Types + 1);
            }
        }

        public (long Total, int Types) Context(UInt128 history) => _contexts.GetValueOrDefault(history);

        public long Count(UInt128 history, int token) =>
            _counts.GetValueOrDefault(history << NGramCounts.BitsPerToken | (uint)token);
    }
}
