using System.Text;
using System.Text.Json.Nodes;
using OrleansLm.Model.IO;

namespace OrleansLm.Model.Text;

/// <summary>
/// One token per Unicode character (a <see cref="Rune"/>, so a surrogate pair is one token), ids in
/// code-point order as nanoGPT's <c>sorted(set(text))</c>. With <c>unknown</c> the last id stands for
/// every character the corpus lacked, and decodes to U+FFFD.
/// </summary>
public sealed class CharTokenizer : ITokenizer
{
    public const string Kind = "char";

    private readonly Rune[] _characters;
    private readonly Dictionary<Rune, int> _ids;

    public CharTokenizer(IEnumerable<Rune> characters, bool unknown = false)
    {
        ArgumentNullException.ThrowIfNull(characters);
        _characters = characters.Distinct().Order().ToArray();
        _ids = _characters.Select((c, id) => (c, id)).ToDictionary(p => p.c, p => p.id);
        HasUnknown = unknown;
    }

    /// <summary>The vocabulary of <paramref name="corpus"/>'s characters.</summary>
    public static CharTokenizer FromCorpus(string corpus, bool unknown = false) =>
        new(Runes(corpus, nameof(corpus)).Select(r => r.Rune), unknown);

    public bool HasUnknown { get; }

    /// <summary>The id of unseen characters, when <see cref="HasUnknown"/>.</summary>
    public int UnknownId => HasUnknown ? _characters.Length : throw new InvalidOperationException("this tokenizer has no <unk> token");

    public int VocabularySize => _characters.Length + (HasUnknown ? 1 : 0);

    public IReadOnlyList<Rune> Characters => _characters;

    public int[] Encode(string text)
    {
        var tokens = new List<int>(text.Length);
        foreach (var (rune, index) in Runes(text, nameof(text)))
        {
            if (_ids.TryGetValue(rune, out var id)) tokens.Add(id);
            else if (HasUnknown) tokens.Add(UnknownId);
            else throw new ArgumentException(
                $"character '{rune}' (U+{rune.Value:X4}) at index {index} is not in the vocabulary and the tokenizer has no <unk>",
                nameof(text));
        }
        return tokens.ToArray();
    }

    public string Decode(IEnumerable<int> tokens)
    {
        var text = new StringBuilder();
        foreach (var id in tokens)
        {
            if (id >= 0 && id < _characters.Length) text.Append(_characters[id].ToString());
            else if (HasUnknown && id == UnknownId) text.Append(Rune.ReplacementChar.ToString());
            else throw new ArgumentOutOfRangeException(nameof(tokens), id, $"token ids must lie in [0, {VocabularySize})");
        }
        return text.ToString();
    }

    public string ToJson() => TokenizerJson.Write(new JsonObject
    {
        ["kind"] = Kind,
        ["characters"] = new JsonArray(_characters.Select(c => (JsonNode)c.ToString()).ToArray()),
        ["unknown"] = HasUnknown,
    });

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    internal static CharTokenizer FromJson(JsonObject root)
    {
        var characters = TokenizerJson.RequireStringArray(root, "characters").Select((text, i) =>
            Rune.TryGetRuneAt(text, 0, out var rune) && rune.Utf16SequenceLength == text.Length
                ? rune
                : throw TokenizerJson.Invalid($"characters[{i}]", "must hold exactly one Unicode character")).ToArray();
        if (characters.Distinct().Count() != characters.Length)
            throw TokenizerJson.Invalid("characters", "must not repeat a character");
        return new CharTokenizer(characters, TokenizerJson.OptionalBool(root, "unknown", fallback: false));
    }

    /// <summary>The characters of <paramref name="text"/> with their UTF-16 index; a lone surrogate is an error.</summary>
    private static IEnumerable<(Rune Rune, int Index)> Runes(string text, string argument)
    {
        ArgumentNullException.ThrowIfNull(text, argument);
        for (var i = 0; i < text.Length;)
        {
            if (Rune.DecodeFromUtf16(text.AsSpan(i), out var rune, out var length) != System.Buffers.OperationStatus.Done)
                throw new ArgumentException($"lone UTF-16 surrogate at index {i}", argument);
            yield return (rune, i);
            i += length;
        }
    }
}
