namespace OrleansLm.Model.Text;

/// <summary>
/// A tokenized text and its train/validation split as nanoGPT makes it: the first
/// <c>int(n · trainFraction)</c> tokens train, the rest validate.
/// </summary>
public sealed class Corpus
{
    public const double DefaultTrainFraction = 0.9;

    private readonly int[] _tokens;

    public Corpus(ReadOnlySpan<int> tokens, int vocabularySize, double trainFraction = DefaultTrainFraction)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        if (!(trainFraction > 0 && trainFraction <= 1))
            throw new ArgumentOutOfRangeException(nameof(trainFraction), trainFraction, "must lie in (0, 1]");
        for (var i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)vocabularySize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i], $"tokens[{i}] lies outside [0, {vocabularySize})");
        _tokens = tokens.ToArray();
        VocabularySize = vocabularySize;
        var trainLength = (int)(_tokens.Length * trainFraction);
        All = new TokenSlice(_tokens, 0, _tokens.Length);
        Train = new TokenSlice(_tokens, 0, trainLength);
        Validation = new TokenSlice(_tokens, trainLength, _tokens.Length - trainLength);
    }

    public static Corpus FromText(string text, ITokenizer tokenizer, double trainFraction = DefaultTrainFraction)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return new Corpus(tokenizer.Encode(text), tokenizer.VocabularySize, trainFraction);
    }

    public int VocabularySize { get; }

    public int Length => _tokens.Length;

    public TokenSlice All { get; }

    public TokenSlice Train { get; }

    public TokenSlice Validation { get; }

    /// <summary>Shard <paramref name="shardIndex"/> of <paramref name="shardCount"/> of the training tokens.</summary>
    public TokenSlice TrainShard(int shardCount, int shardIndex) => Train.Shard(shardCount, shardIndex);
}

/// <summary>A contiguous range [<see cref="Start"/>, <see cref="End"/>) of a corpus's tokens.</summary>
public sealed class TokenSlice
{
    private readonly int[] _corpus;

    internal TokenSlice(int[] corpus, int start, int length)
    {
        _corpus = corpus;
        Start = start;
        Length = length;
    }

    /// <summary>Position of the first token in the corpus.</summary>
    public int Start { get; }

    public int Length { get; }

    public int End => Start + Length;

    public ReadOnlySpan<int> Tokens => _corpus.AsSpan(Start, Length);

    /// <summary>The corpus from its first token to this slice's end: the slice with all the history before it,
    /// for statistics (n-gram counts) that look back across the slice's start.</summary>
    public ReadOnlySpan<int> WithHistory => _corpus.AsSpan(0, End);

    /// <summary>
    /// The <paramref name="shardIndex"/>-th of <paramref name="shardCount"/> contiguous, disjoint pieces that
    /// together cover this slice; their lengths differ by at most one. A pure function of its arguments, so every
    /// silo computes the same shard.
    /// </summary>
    public TokenSlice Shard(int shardCount, int shardIndex)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(shardCount, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(shardIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(shardIndex, shardCount);
        var from = (int)((long)Length * shardIndex / shardCount);
        var to = (int)((long)Length * (shardIndex + 1) / shardCount);
        return new TokenSlice(_corpus, Start + from, to - from);
    }

    public override string ToString() => $"tokens [{Start}, {End})";
}
