namespace OrleansLm.Model.Text;

/// <summary>
/// Maps text to token ids in [0, <see cref="VocabularySize"/>) and back. Saved as JSON whose "kind" field
/// names the tokenizer, so <see cref="Load"/> can rebuild any of them.
/// </summary>
public interface ITokenizer
{
    int VocabularySize { get; }

    int[] Encode(string text);

    string Decode(IEnumerable<int> tokens);

    /// <summary>The tokenizer as a JSON object with a "kind" field.</summary>
    string ToJson();

    void Save(string path);

    static ITokenizer Load(string path) => FromJson(File.ReadAllText(path));

    /// <exception cref="InvalidDataException">The JSON is malformed, lacks a field or names an unknown kind.</exception>
    static ITokenizer FromJson(string json)
    {
        var root = TokenizerJson.Parse(json);
        var kind = TokenizerJson.RequireString(root, "kind");
        return kind switch
        {
            CharTokenizer.Kind => CharTokenizer.FromJson(root),
            WordTokenizer.Kind => WordTokenizer.FromJson(root),
            ByteBpeTokenizer.Kind => ByteBpeTokenizer.FromJson(root),
            _ => throw new InvalidDataException(
                $"tokenizer JSON: field 'kind' is '{kind}'; expected one of " +
                $"'{CharTokenizer.Kind}', '{WordTokenizer.Kind}', '{ByteBpeTokenizer.Kind}'"),
        };
    }
}
