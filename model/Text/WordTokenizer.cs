using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OrleansLm.Model.IO;

namespace OrleansLm.Model.Text;

/// <summary>
/// One token per word (letters and digits, with inner apostrophes: "don't"), per punctuation mark, and per
/// line break; other whitespace only separates. Id 0 is <c>&lt;unk&gt;</c>, then words by falling corpus
/// count (ties in ordinal order). Decoding puts one space between tokens except before closing punctuation,
/// after opening brackets and around line breaks, so it restores ordinary prose but not its exact spacing.
/// </summary>
public sealed partial class WordTokenizer : ITokenizer
{
    public const string Kind = "word";
    public const string Unknown = "<unk>";
    public const int UnknownId = 0;

    private const string ClosingPunctuation = ".,;:!?)]}";
    private const string OpeningPunctuation = "([{";

    private readonly string[] _words;
    private readonly Dictionary<string, int> _ids;

    /// <param name="words">The vocabulary after <c>&lt;unk&gt;</c>, in id order (ids 1, 2, ...).</param>
    public WordTokenizer(IEnumerable<string> words)
    {
        ArgumentNullException.ThrowIfNull(words);
        _words = [Unknown, .. words];
        _ids = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var id = 0; id < _words.Length; id++)
            if (!_ids.TryAdd(_words[id], id))
                throw new ArgumentException($"word '{_words[id]}' appears twice (or is the reserved {Unknown})", nameof(words));
    }

    /// <summary>The words of <paramref name="corpus"/> seen at least <paramref name="minCount"/> times,
    /// the most frequent first, cut to <paramref name="maxVocabularySize"/> ids including <c>&lt;unk&gt;</c>.</summary>
    public static WordTokenizer FromCorpus(string corpus, int minCount = 1, int? maxVocabularySize = null)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentOutOfRangeException.ThrowIfLessThan(minCount, 1);
        if (maxVocabularySize is { } max) ArgumentOutOfRangeException.ThrowIfLessThan(max, 1, nameof(maxVocabularySize));
        var counts = Split(corpus).CountBy(word => word, StringComparer.Ordinal);
        var words = counts
            .Where(c => c.Value >= minCount)
            .OrderByDescending(c => c.Value)
            .ThenBy(c => c.Key, StringComparer.Ordinal)
            .Select(c => c.Key)
            .Take((maxVocabularySize ?? int.MaxValue) - 1);
        return new WordTokenizer(words);
    }

    public int VocabularySize => _words.Length;

    public IReadOnlyList<string> Words => _words;

    public int[] Encode(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Split(text).Select(word => _ids.GetValueOrDefault(word, UnknownId)).ToArray();
    }

    public string Decode(IEnumerable<int> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var text = new StringBuilder();
        string? previous = null;
        foreach (var id in tokens)
        {
            if (id < 0 || id >= _words.Length)
                throw new ArgumentOutOfRangeException(nameof(tokens), id, $"token ids must lie in [0, {VocabularySize})");
            var word = _words[id];
            if (previous is not null && SpaceBetween(previous, word)) text.Append(' ');
            text.Append(word);
            previous = word;
        }
        return text.ToString();
    }

    public string ToJson() => TokenizerJson.Write(new JsonObject
    {
        ["kind"] = Kind,
        ["words"] = new JsonArray(_words.Skip(1).Select(w => (JsonNode)w).ToArray()),
    });

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    internal static WordTokenizer FromJson(JsonObject root)
    {
        var words = TokenizerJson.RequireStringArray(root, "words");
        try
        {
            return new WordTokenizer(words);
        }
        catch (ArgumentException e)
        {
            throw TokenizerJson.Invalid("words", e.Message);
        }
    }

    private static IEnumerable<string> Split(string text) => WordPattern().Matches(text).Select(m => m.Value);

    private static bool SpaceBetween(string previous, string next) =>
        previous != "\n" && next != "\n" && !IsOneOf(next, ClosingPunctuation) && !IsOneOf(previous, OpeningPunctuation);

    private static bool IsOneOf(string token, string marks) => token.Length == 1 && marks.Contains(token[0]);

    // A word, a line break, or any other single character but whitespace (a surrogate pair stays whole).
    [GeneratedRegex(@"[\p{L}\p{M}\p{N}_]+(?:'[\p{L}\p{M}\p{N}_]+)*|\n|[\uD800-\uDBFF][\uDC00-\uDFFF]|\S")]
    private static partial Regex WordPattern();
}
