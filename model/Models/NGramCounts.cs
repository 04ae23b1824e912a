using System.Runtime.InteropServices;
using OrleansLm.Model.IO;
using OrleansLm.Model.Text;

namespace OrleansLm.Model.Models;

/// <summary>
/// How often every k-gram, k = 1..<see cref="Order"/>, occurs in token sequences. Counts only add, so they
/// can be built per shard and merged: a shard counts the grams that end inside it, looking back across its
/// start, and the merged counts of a corpus's shards equal the corpus's counts exactly.
/// </summary>
public sealed class NGramCounts
{
    public const int MaxOrder = 6;

    // A k-gram packs into a UInt128 key, BitsPerToken bits per id: 6 · 21 = 126 bits.
    internal const int BitsPerToken = 21;

    public const int MaxVocabularySize = 1 << BitsPerToken;

    private readonly Dictionary<UInt128, long>[] _tables;

    public NGramCounts(int order, int vocabularySize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(order, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(order, MaxOrder);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(vocabularySize, MaxVocabularySize);
        Order = order;
        VocabularySize = vocabularySize;
        _tables = Enumerable.Range(0, order).Select(_ => new Dictionary<UInt128, long>()).ToArray();
    }

    public static NGramCounts FromTokens(int order, int vocabularySize, ReadOnlySpan<int> tokens)
    {
        var counts = new NGramCounts(order, vocabularySize);
        counts.Add(tokens);
        return counts;
    }

    public int Order { get; }

    public int VocabularySize { get; }

    /// <summary>Distinct grams stored over every order: what a count-based model has in place of parameters.</summary>
    public long DistinctGrams => _tables.Sum(table => (long)table.Count);

    /// <summary>Tokens counted: each ends one unigram.</summary>
    public long Tokens => _tables[0].Values.Sum();

    /// <summary>Counts every gram of <paramref name="tokens"/>, a sequence of its own (nothing before it).</summary>
    public void Add(ReadOnlySpan<int> tokens) => Add(tokens, 0, nameof(tokens));

    /// <summary>Counts the grams that end inside <paramref name="slice"/>, with the corpus before it as their history.</summary>
    public void Add(TokenSlice slice)
    {
        ArgumentNullException.ThrowIfNull(slice);
        Add(slice.WithHistory, slice.Start, nameof(slice));
    }

    /// <summary>Adds <paramref name="other"/>'s counts to these.</summary>
    public void Merge(NGramCounts other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (other.Order != Order || other.VocabularySize != VocabularySize)
            throw new ArgumentException(
                $"cannot merge counts of order {other.Order} over {other.VocabularySize} tokens into order {Order} over {VocabularySize}", nameof(other));
        for (var k = 0; k < Order; k++)
            foreach (var (key, count) in other._tables[k])
                CollectionsMarshal.GetValueRefOrAddDefault(_tables[k], key, out _) += count;
    }

    public static NGramCounts Merge(IEnumerable<NGramCounts> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        NGramCounts? total = null;
        foreach (var part in parts)
        {
            total ??= new NGramCounts(part.Order, part.VocabularySize);
            total.Merge(part);
        }
        return total ?? throw new ArgumentException("no counts to merge", nameof(parts));
    }

    /// <summary>Occurrences of <paramref name="gram"/> (1 to <see cref="Order"/> ids).</summary>
    public long Count(ReadOnlySpan<int> gram)
    {
        if (gram.Length < 1 || gram.Length > Order)
            throw new ArgumentOutOfRangeException(nameof(gram), gram.Length, $"a gram holds 1 to {Order} tokens");
        return _tables[gram.Length - 1].GetValueOrDefault(Pack(gram));
    }

    /// <summary>Every distinct gram of <paramref name="order"/> tokens with its count, in no particular order.</summary>
    public IEnumerable<(int[] Gram, long Count)> Grams(int order)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(order, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(order, Order);
        return _tables[order - 1].Select(entry => (Unpack(entry.Key, order), entry.Value));
    }

    public NGramCounts Clone()
    {
        var copy = new NGramCounts(Order, VocabularySize);
        copy.Merge(this);
        return copy;
    }

    public void Save(Stream stream) => NGramFile.Write(stream, this, NGramFile.CountsOnly, 0);

    /// <summary>Writes the counts to <paramref name="path"/> atomically (a temporary file renamed over it).</summary>
    public void Save(string path) => AtomicFile.Write(path, Save);

    /// <summary>Reads counts from an n-gram file (a saved <see cref="NGramCounts"/> or <see cref="NGramLm"/>).</summary>
    /// <exception cref="InvalidDataException">The file is not an n-gram file, or is truncated or corrupt.</exception>
    public static NGramCounts Load(Stream stream) => NGramFile.Read(stream).Counts;

    public static NGramCounts Load(string path) => NGramFile.Load(path, Load);

    /// <summary>The k-grams' table; a gram's key is its ids packed most-recent-last, see <see cref="Pack"/>.</summary>
    internal IReadOnlyDictionary<UInt128, long> Table(int order) => _tables[order - 1];

    internal void Set(ReadOnlySpan<int> gram, long count) => _tables[gram.Length - 1][Pack(gram)] = count;

    /// <summary>Packs ids so that key(h w) = key(h) &lt;&lt; BitsPerToken | w: a gram's context is its key shifted right.</summary>
    internal static UInt128 Pack(ReadOnlySpan<int> gram)
    {
        UInt128 key = 0;
        foreach (var id in gram) key = key << BitsPerToken | (uint)id;
        return key;
    }

    internal static int[] Unpack(UInt128 key, int length)
    {
        var gram = new int[length];
        for (var j = length - 1; j >= 0; j--, key >>= BitsPerToken)
            gram[j] = (int)(uint)(key & (MaxVocabularySize - 1));
        return gram;
    }

    private void Add(ReadOnlySpan<int> tokens, int firstCounted, string argument)
    {
        // Check first so that bad input leaves the counts untouched.
        for (var i = 0; i < tokens.Length; i++)
            if ((uint)tokens[i] >= (uint)VocabularySize)
                throw new ArgumentOutOfRangeException(argument, tokens[i], $"token {i} lies outside [0, {VocabularySize})");
        for (var i = firstCounted; i < tokens.Length; i++)
        {
            // Grow the gram ending at i leftwards: its k-th token from the end lands in the k-th id field.
            UInt128 key = 0;
            for (var k = 1; k <= Math.Min(Order, i + 1); k++)
            {
                key |= (UInt128)(uint)tokens[i - k + 1] << (BitsPerToken * (k - 1));
                CollectionsMarshal.GetValueRefOrAddDefault(_tables[k - 1], key, out _)++;
            }
        }
    }
}
