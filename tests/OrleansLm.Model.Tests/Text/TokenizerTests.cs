using System.Text;
using FsCheck;
using FsCheck.Fluent;
using OrleansLm.Model.Text;

namespace OrleansLm.Model.Tests.Text;

public class TokenizerTests
{
    private const string Mixed = "Hello, wörld! 👋🏽 世界 — naïve café 𠀀; numbers 1234 and 'quotes' don't stop.\n\tTabs  and  spaces.";

    [Fact]
    public void CharVocabularyIsSortedByCodePointWithSurrogatePairsAsOneCharacter()
    {
        const string text = "b👋a世b👋";
        var tokenizer = CharTokenizer.FromCorpus(text);

        tokenizer.Characters.Select(r => r.Value).Should().Equal('a', 'b', 0x4E16, 0x1F44B);
        tokenizer.Encode(text).Should().Equal(1, 3, 0, 2, 1, 3);
        tokenizer.Decode(tokenizer.Encode(text)).Should().Be(text);
    }

    [Fact]
    public void CharTokenizerRejectsUnseenCharactersUnlessItHasUnknown()
    {
        var strict = CharTokenizer.FromCorpus("abc");
        strict.Invoking(t => t.Encode("abz")).Should().Throw<ArgumentException>()
            .Where(e => e.ParamName == "text" && e.Message.Contains("'z'") && e.Message.Contains("index 2"));

        var lenient = CharTokenizer.FromCorpus("abc", unknown: true);
        lenient.VocabularySize.Should().Be(4);
        lenient.Encode("abz").Should().Equal(0, 1, lenient.UnknownId);
        lenient.Decode(lenient.Encode("abz")).Should().Be("ab\uFFFD");
    }

    [Fact]
    public void TokenizersRejectALoneSurrogate()
    {
        var lone = "a\uD83Db";
        FluentActions.Invoking(() => CharTokenizer.FromCorpus(lone)).Should().Throw<ArgumentException>().WithParameterName("corpus");
        FluentActions.Invoking(() => ByteBpeTokenizer.Train(lone, 260)).Should().Throw<ArgumentException>().WithParameterName("corpus");
        new ByteBpeTokenizer([]).Invoking(t => t.Encode(lone)).Should().Throw<ArgumentException>().WithParameterName("text");
    }

    [Fact]
    public void WordVocabularyIsCutByMinCountAndMaxSize()
    {
        // Counts: the 3, cat 2, "." 2, sat 1, ran 1, dog 1; ties go in ordinal order ("." < "cat").
        const string corpus = "the cat sat. the cat ran. the dog";

        var frequent = WordTokenizer.FromCorpus(corpus, minCount: 2);
        frequent.Words.Should().Equal("<unk>", "the", ".", "cat");
        frequent.Encode("the dog sat.").Should().Equal(1, 0, 0, 2);

        WordTokenizer.FromCorpus(corpus, maxVocabularySize: 3).Words.Should().Equal("<unk>", "the", ".");
        WordTokenizer.FromCorpus(corpus).VocabularySize.Should().Be(7);
    }

    [Fact]
    public void WordDecodingRestoresOrdinaryProse()
    {
        const string text = "Hello, world (again)!\nDon't stop; it's fine.";
        var tokenizer = WordTokenizer.FromCorpus(text);
        var tokens = tokenizer.Encode(text);

        tokens.Select(t => tokenizer.Words[t]).Should().Equal(
            "Hello", ",", "world", "(", "again", ")", "!", "\n", "Don't", "stop", ";", "it's", "fine", ".");
        tokenizer.Decode(tokens).Should().Be(text);
    }

    [Fact]
    public void BpeLearnsTheTextbookMerges()
    {
        // aaabdaaabac: "aa" (4 pairs) becomes Z=256, giving Z a b d Z a b a c; "Za" and "ab" tie at 2 and the
        // smaller pair (97, 98) wins, Y=257, giving Z Y d Z Y a c; then "ZY" becomes X=258: X d X a c.
        var tokenizer = ByteBpeTokenizer.Train("aaabdaaabac", vocabularySize: 259);

        tokenizer.Merges.Should().Equal((97, 97), (97, 98), (256, 257));
        tokenizer.Encode("aaabdaaabac").Should().Equal(258, 'd', 258, 'a', 'c');
        Encoding.UTF8.GetString(tokenizer.BytesOf(258)).Should().Be("aaab");
    }

    [Fact]
    public void BpeMergesNeverCrossChunks()
    {
        // " the" is one chunk (leading space kept), so "e t" spanning two words must never merge.
        var tokenizer = ByteBpeTokenizer.Train("the the the the", vocabularySize: 300);
        var tokens = tokenizer.Encode("the the");

        tokens.Select(t => Encoding.UTF8.GetString(tokenizer.BytesOf(t))).Should().Equal("the", " the");
        tokenizer.VocabularySize.Should().BeLessThan(300, "training stops when no pair is left to merge");
    }

    [Fact]
    public void BpeRoundTripsAnyUnicodeText()
    {
        var tokenizer = ByteBpeTokenizer.Train(Mixed + Mixed.ToUpperInvariant(), vocabularySize: 320);
        tokenizer.VocabularySize.Should().Be(320);

        // Code points from ASCII, Latin, CJK, the astral planes (emoji, CJK extension B) and whitespace,
        // skipping the surrogate block, which holds no characters.
        var codePoint = Gen.OneOf(
            Gen.Choose(0x20, 0x7E), Gen.Choose(0x80, 0x24F), Gen.Choose(0x4E00, 0x9FFF),
            Gen.Choose(0x1F300, 0x1FAFF), Gen.Choose(0x20000, 0x2A6DF), Gen.Choose(0xE000, 0x10FFFF),
            Gen.Elements(0x20, 0x0A, 0x09, 0x27, 0x73)); // space, line feed, tab, ', s: GPT-2's whitespace and contraction cases
        var text = Gen.ListOf(codePoint).Select(points => string.Concat(points.Select(p => char.ConvertFromUtf32(p))));

        Prop.ForAll(text.ToArbitrary(), s => tokenizer.Decode(tokenizer.Encode(s)) == s)
            .Check(Config.QuickThrowOnFailure.WithMaxTest(300).WithEndSize(60));
        tokenizer.Decode(tokenizer.Encode(Mixed)).Should().Be(Mixed);
    }

    public static TheoryData<string> Kinds => [CharTokenizer.Kind, WordTokenizer.Kind, ByteBpeTokenizer.Kind];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void SaveAndLoadGiveTheSameTokenizer(string kind)
    {
        ITokenizer tokenizer = kind switch
        {
            CharTokenizer.Kind => CharTokenizer.FromCorpus(Mixed, unknown: true),
            WordTokenizer.Kind => WordTokenizer.FromCorpus(Mixed, maxVocabularySize: 10),
            _ => ByteBpeTokenizer.Train(Mixed, 300),
        };
        var path = Path.Combine(Path.GetTempPath(), $"olm-tokenizer-{Guid.NewGuid():N}.json");
        try
        {
            tokenizer.Save(path);
            var loaded = ITokenizer.Load(path);

            loaded.Should().BeOfType(tokenizer.GetType());
            loaded.VocabularySize.Should().Be(tokenizer.VocabularySize);
            loaded.Encode(Mixed + " ✓").Should().Equal(tokenizer.Encode(Mixed + " ✓"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData("[1, 2]", "'kind'")]
    [InlineData("{\"merges\": []}", "'kind' is missing")]
    [InlineData("{\"kind\": \"sentencepiece\"}", "'kind' is 'sentencepiece'")]
    [InlineData("{\"kind\": \"byte-bpe\"}", "'merges' is missing")]
    [InlineData("{\"kind\": \"byte-bpe\", \"merges\": [[97]]}", "'merges[0]'")]
    [InlineData("{\"kind\": \"byte-bpe\", \"merges\": [[97, \"b\"]]}", "'merges[0][1]' must be an integer")]
    [InlineData("{\"kind\": \"byte-bpe\", \"merges\": [[97, 98], [257, 97]]}", "merge 1 (257, 97)")]
    [InlineData("{\"kind\": \"char\", \"characters\": [\"ab\"]}", "'characters[0]'")]
    [InlineData("{\"kind\": \"char\", \"characters\": [\"a\"], \"unknown\": 1}", "'unknown'")]
    [InlineData("{\"kind\": \"word\", \"words\": [\"a\", \"a\"]}", "'words'")]
    [InlineData("{\"kind\": \"char\", ", "not valid JSON")]
    public void MalformedJsonNamesTheFieldAtFault(string json, string expected)
    {
        FluentActions.Invoking(() => ITokenizer.FromJson(json))
            .Should().Throw<InvalidDataException>().Which.Message.Should().Contain(expected);
    }

    [Fact]
    public void DecodingAnIdOutsideTheVocabularyFails()
    {
        var tokenizer = CharTokenizer.FromCorpus("ab");
        tokenizer.Invoking(t => t.Decode([0, 2])).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("tokens");
        new ByteBpeTokenizer([]).Invoking(t => t.Decode([256])).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("tokens");
    }
}
