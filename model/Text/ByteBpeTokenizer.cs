using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OrleansLm.Model.IO;

namespace OrleansLm.Model.Text;

/// <summary>
/// GPT-2's byte-level BPE: ids 0..255 are the bytes of UTF-8, and merge i makes id 256 + i from a pair of
/// earlier ids. Text is first cut into chunks by GPT-2's pattern (words with their leading space, numbers,
/// punctuation runs, whitespace) and merges never cross a chunk, so a word's tokens do not depend on its
/// neighbours. Any valid Unicode text round-trips exactly; decoding an id sequence that is not valid UTF-8
/// yields U+FFFD for the bad bytes, as GPT-2's <c>errors="replace"</c>.
/// </summary>
public sealed partial class ByteBpeTokenizer : ITokenizer
{
    public const string Kind = "byte-bpe";
    public const int ByteCount = 256;

    // Strict: a lone surrogate has no UTF-8 form, so it must fail rather than silently become U+FFFD.
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    private readonly (int Left, int Right)[] _merges;
    private readonly Dictionary<(int Left, int Right), int> _rank;
    private readonly byte[][] _bytes;

    public ByteBpeTokenizer(IEnumerable<(int Left, int Right)> merges)
    {
        ArgumentNullException.ThrowIfNull(merges);
        _merges = merges.ToArray();
        _rank = new Dictionary<(int, int), int>(_merges.Length);
        _bytes = new byte[ByteCount + _merges.Length][];
        for (var b = 0; b < ByteCount; b++) _bytes[b] = [(byte)b];
        for (var i = 0; i < _merges.Length; i++)
        {
            var (left, right) = _merges[i];
            var newId = ByteCount + i;
            if (left < 0 || left >= newId || right < 0 || right >= newId)
                throw new ArgumentException($"merge {i} ({left}, {right}) uses an id that does not exist before id {newId}", nameof(merges));
            if (!_rank.TryAdd(_merges[i], i))
                throw new ArgumentException($"merge {i} ({left}, {right}) repeats merge {_rank[_merges[i]]}", nameof(merges));
            _bytes[newId] = [.. _bytes[left], .. _bytes[right]];
        }
    }

    /// <summary>
    /// Learns merges on <paramref name="corpus"/> until the vocabulary holds <paramref name="vocabularySize"/>
    /// ids, or no pair is left to merge. Each step merges the most frequent adjacent pair (ties: smallest
    /// (left, right)), so training is deterministic.
    /// </summary>
    public static ByteBpeTokenizer Train(string corpus, int vocabularySize)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabularySize, ByteCount);
        // Identical chunks merge identically, so each distinct chunk is worked on once, weighted by its count.
        var chunks = Chunks(corpus)
            .CountBy(chunk => chunk, StringComparer.Ordinal)
            .Select(c => (Ids: Utf8Ids(c.Key, nameof(corpus)), Count: (long)c.Value))
            .ToArray();
        var merges = new List<(int, int)>();
        while (ByteCount + merges.Count < vocabularySize)
        {
            var pairCounts = new Dictionary<(int, int), long>();
            foreach (var (ids, count) in chunks)
                for (var i = 0; i + 1 < ids.Count; i++)
                    pairCounts[(ids[i], ids[i + 1])] = pairCounts.GetValueOrDefault((ids[i], ids[i + 1])) + count;
            if (pairCounts.Count == 0) break;
            var best = pairCounts.MaxBy(p => (p.Value, -p.Key.Item1, -p.Key.Item2)).Key;
            var newId = ByteCount + merges.Count;
            foreach (var (ids, _) in chunks) Merge(ids, best, newId);
            merges.Add(best);
        }
        return new ByteBpeTokenizer(merges);
    }

    public int VocabularySize => _bytes.Length;

    public IReadOnlyList<(int Left, int Right)> Merges => _merges;

    /// <summary>The bytes token <paramref name="id"/> stands for.</summary>
    public ReadOnlySpan<byte> BytesOf(int id) => _bytes[id];

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var tokens = new List<int>(text.Length);
        foreach (var chunk in Chunks(text))
        {
            var ids = Utf8Ids(chunk, nameof(text));
            // Apply the earliest-learned merge present, as training did, until none applies.
            while (ids.Count > 1)
            {
                var best = (Pair: (-1, -1), Rank: int.MaxValue);
                for (var i = 0; i + 1 < ids.Count; i++)
                    if (_rank.TryGetValue((ids[i], ids[i + 1]), out var rank) && rank < best.Rank)
                        best = ((ids[i], ids[i + 1]), rank);
                if (best.Rank == int.MaxValue) break;
                Merge(ids, best.Pair, ByteCount + best.Rank);
            }
            tokens.AddRange(ids);
        }
        return tokens.ToArray();
    }

    public string Decode(IEnumerable<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var bytes = new List<byte>();
        foreach (var id in tokens)
        {
            if (id < 0 || id >= _bytes.Length)
                throw new ArgumentOutOfRangeException(nameof(tokens), id, $"token ids must lie in [0, {VocabularySize})");
            bytes.AddRange(_bytes[id]);
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    public string ToJson() => TokenizerJson.Write(new JsonObject
    {
        ["kind"] = Kind,
        ["merges"] = new JsonArray(_merges.Select(m => (JsonNode)new JsonArray(m.Left, m.Right)).ToArray()),
    });

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    internal static ByteBpeTokenizer FromJson(JsonObject root)
    {
        var merges = TokenizerJson.RequireArray(root, "merges").Select((node, i) =>
            node is JsonArray { Count: 2 } pair
                ? (TokenizerJson.AsInt(pair[0], $"merges[{i}][0]"), TokenizerJson.AsInt(pair[1], $"merges[{i}][1]"))
                : throw TokenizerJson.Invalid($"merges[{i}]", "must be a [left, right] pair of ids")).ToArray();
        try
        {
            return new ByteBpeTokenizer(merges);
        }
        catch (ArgumentException e)
        {
            throw TokenizerJson.Invalid("merges", e.Message);
        }
    }

    /// <summary>Replaces each non-overlapping occurrence of <paramref name="pair"/>, left to right, by <paramref name="newId"/>.</summary>
    private static void Merge(List<int> ids, (int Left, int Right) pair, int newId)
    {
        var write = 0;
        for (var read = 0; read < ids.Count; write++)
        {
            if (read + 1 < ids.Count && ids[read] == pair.Left && ids[read + 1] == pair.Right)
            {
                ids[write] = newId;
                read += 2;
            }
            else ids[write] = ids[read++];
        }
        ids.RemoveRange(write, ids.Count - write);
    }

    private static List<int> Utf8Ids(string chunk, string argument)
    {
        try
        {
            return StrictUtf8.GetBytes(chunk).Select(b => (int)b).ToList();
        }
        catch (EncoderFallbackException e)
        {
            throw new ArgumentException($"text holds a lone UTF-16 surrogate, which has no UTF-8 form: {e.Message}", argument, e);
        }
    }

    private static IEnumerable<string> Chunks(string text) => Gpt2Pattern().Matches(text).Select(m => m.Value);

    // GPT-2's pre-tokenizer. Every character falls in one alternative, so the chunks tile the text; a
    // surrogate pair is "other" in both halves and so never split.
    [GeneratedRegex(@"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")]
    private static partial Regex Gpt2Pattern();
}
