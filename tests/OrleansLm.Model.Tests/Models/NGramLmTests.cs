using OrleansLm.Model.Models;
using OrleansLm.Model.Text;

namespace OrleansLm.Model.Tests.Models;

public class NGramLmTests
{
    private const int A = 0, B = 1, C = 2, D = 3;

    // a b a c b a b over {a, b, c, d}: d never occurs.
    private static readonly int[] Tiny = [A, B, A, C, B, A, B];

    private static int[] RandomTokens(int length, int vocabularySize, int seed)
    {
        var random = new Random(seed);
        // Skewed, and the last id never drawn, so smoothing has unseen tokens to cover.
        return Enumerable.Range(0, length).Select(_ => (int)(Math.Pow(random.NextDouble(), 2) * (vocabularySize - 1))).ToArray();
    }

    public static TheoryData<NGramSmoothing, int> ModelsToNormalize()
    {
        var data = new TheoryData<NGramSmoothing, int>();
        foreach (var smoothing in Enum.GetValues<NGramSmoothing>())
            foreach (var order in new[] { 1, 2, 3, 6 })
                data.Add(smoothing, order);
        return data;
    }

    private static NGramLm Build(NGramSmoothing smoothing, NGramCounts counts) => smoothing switch
    {
        NGramSmoothing.MaximumLikelihood => NGramLm.MaximumLikelihood(counts),
        NGramSmoothing.AddK => NGramLm.AddK(counts, k: 0.3),
        _ => NGramLm.KneserNey(counts, discount: 0.75),
    };

    [Theory]
    [MemberData(nameof(ModelsToNormalize))]
    public void DistributionsSumToOneInEveryContext(NGramSmoothing smoothing, int order)
    {
        const int vocabularySize = 7;
        var tokens = RandomTokens(400, vocabularySize, seed: 1);
        var model = Build(smoothing, NGramCounts.FromTokens(order, vocabularySize, tokens));
        int[][] contexts = [[], tokens[..1], tokens[10..15], tokens[^5..], [6, 6, 6, 6, 6], [0, 6, 1]];

        foreach (var context in contexts)
        {
            var distribution = model.Distribution(context);
            distribution.Sum().Should().BeApproximately(1, 1e-12, $"context [{string.Join(", ", context)}]");
            distribution.Should().OnlyContain(p => p >= 0);
            for (var w = 0; w < vocabularySize; w++)
                model.Probability(context, w).Should().Be(distribution[w]);
            if (smoothing != NGramSmoothing.MaximumLikelihood)
                distribution[vocabularySize - 1].Should().BePositive("smoothing covers the token never seen");
        }
    }

    [Fact]
    public void MaximumLikelihoodMatchesHandCounts()
    {
        var model = NGramLm.MaximumLikelihood(NGramCounts.FromTokens(2, 4, Tiny));

        // Bigrams: ab ×2, ba ×2, ac, cb; a is followed 3 times, b twice (the final b by nothing), c once.
        model.Probability([A], B).Should().BeApproximately(2.0 / 3, 1e-15);
        model.Probability([A], C).Should().BeApproximately(1.0 / 3, 1e-15);
        model.Probability([A], A).Should().Be(0);
        model.Probability([B], A).Should().Be(1);
        model.Probability([C], B).Should().Be(1);
        // No context, or d (never followed): the unigram a 3/7, b 3/7, c 1/7.
        model.Probability([], A).Should().BeApproximately(3.0 / 7, 1e-15);
        model.Probability([D], C).Should().BeApproximately(1.0 / 7, 1e-15);
        // Only the last Order − 1 tokens matter.
        model.Probability([C, C, A], B).Should().Be(model.Probability([A], B));
    }

    [Fact]
    public void AddKMatchesTheFormula()
    {
        var model = NGramLm.AddK(NGramCounts.FromTokens(2, 4, Tiny), k: 0.5);

        model.Probability([A], B).Should().BeApproximately((2 + 0.5) / (3 + 0.5 * 4), 1e-15);
        model.Probability([A], D).Should().BeApproximately(0.5 / (3 + 0.5 * 4), 1e-15);
        model.Probability([D], A).Should().BeApproximately(0.25, 1e-15, "an unseen context is uniform");
    }

    [Fact]
    public void KneserNeyMatchesAHandComputation()
    {
        const double discount = 0.75, uniform = 1.0 / 4;
        var bigram = NGramLm.KneserNey(NGramCounts.FromTokens(2, 4, Tiny), discount);
        var trigram = NGramLm.KneserNey(NGramCounts.FromTokens(3, 4, Tiny), discount);

        // Unigram level from continuation counts N1+(• w), the distinct tokens before w among the bigram
        // types {ab, ba, ac, cb}: a ← {b}, b ← {a, c}, c ← {a}, d ← {}; N1+(• •) = 4 over 3 token types.
        double Unigram(double continuation) => (Math.Max(continuation - discount, 0) + discount * 3 * uniform) / 4;
        double[] p1 = [Unigram(1), Unigram(2), Unigram(1), Unigram(0)];

        // Bigram level, raw counts after a: c(ab) = 2, c(ac) = 1, c(a •) = 3, N1+(a •) = 2.
        double AfterA(double count, int w) => (Math.Max(count - discount, 0) + discount * 2 * p1[w]) / 3;
        bigram.Probability([A], A).Should().BeApproximately(AfterA(0, A), 1e-15);
        bigram.Probability([A], B).Should().BeApproximately(AfterA(2, B), 1e-15);
        bigram.Probability([A], C).Should().BeApproximately(AfterA(1, C), 1e-15);
        bigram.Probability([A], D).Should().BeApproximately(AfterA(0, D), 1e-15);
        bigram.Probability([D], B).Should().BeApproximately(p1[B], 1e-15, "an unseen context passes the lower order through");

        // Trigrams: aba, bac, acb, cba, bab. Middle level after b, from continuation counts: N1+(• b a) = |{a, c}| = 2,
        // nothing else follows b, so N1+(• b •) = 2 with one type. Top level after "a b": c(aba) = 1 only.
        double AfterB(double continuation, int w) => (Math.Max(continuation - discount, 0) + discount * 1 * p1[w]) / 2;
        double AfterAB(double count, int w) => (Math.Max(count - discount, 0) + discount * 1 * AfterB(w == A ? 2 : 0, w)) / 1;
        for (var w = 0; w < 4; w++)
            trigram.Probability([A, B], w).Should().BeApproximately(AfterAB(w == A ? 1 : 0, w), 1e-15, $"token {w}");
    }

    [Fact]
    public void PerplexityOfUniformAndUnigramCasesIsKnown()
    {
        int[] cycle = [0, 1, 2, 3, 0, 1, 2, 3];
        var uniform = NGramLm.MaximumLikelihood(NGramCounts.FromTokens(1, 4, cycle));
        uniform.Perplexity([3, 1, 1, 0, 2]).Should().BeApproximately(4, 1e-12);

        // P(0) = 3/4, P(1) = 1/4: perplexity of [0, 1] is (3/4 · 1/4)^(−1/2) = 4/√3.
        var unigram = NGramLm.MaximumLikelihood(NGramCounts.FromTokens(1, 2, [0, 0, 0, 1]));
        unigram.Perplexity([0, 1]).Should().BeApproximately(4 / Math.Sqrt(3), 1e-12);
        unigram.CrossEntropy([0, 1]).Should().BeApproximately(-(Math.Log(0.75) + Math.Log(0.25)) / 2, 1e-12);

        var bigram = NGramLm.MaximumLikelihood(NGramCounts.FromTokens(2, 4, Tiny));
        bigram.Perplexity([A, A]).Should().Be(double.PositiveInfinity, "MLE gives the unseen bigram aa probability 0");
        NGramLm.KneserNey(NGramCounts.FromTokens(2, 4, Tiny)).Perplexity([A, A, D]).Should().BeInRange(1, 1e6);
    }

    [Fact]
    public void ShardCountsMergeIntoTheWholeCorpusCountsExactly()
    {
        var corpus = new Corpus(RandomTokens(3000, 6, seed: 2), 6);
        var whole = new NGramCounts(4, 6);
        whole.Add(corpus.Train);
        var shards = Enumerable.Range(0, 5).Select(i =>
        {
            var counts = new NGramCounts(4, 6);
            counts.Add(corpus.TrainShard(5, i));
            return counts;
        }).ToArray();

        var merged = NGramCounts.Merge(shards);

        for (var k = 1; k <= 4; k++)
            merged.Grams(k).Select(g => (string.Join(",", g.Gram), g.Count))
                .Should().BeEquivalentTo(whole.Grams(k).Select(g => (string.Join(",", g.Gram), g.Count)), $"order {k}");
        merged.Count([0]).Should().Be(corpus.Train.Tokens.ToArray().Count(t => t == 0));
        var fromWhole = NGramLm.KneserNey(whole);
        var fromShards = NGramLm.KneserNey(merged);
        foreach (var context in new[] { Array.Empty<int>(), [1], [0, 2, 1], [5, 5, 5] })
            fromShards.Distribution(context).Should().Equal(fromWhole.Distribution(context));
    }

    [Fact]
    public void ModelIsASnapshotOfItsCounts()
    {
        var counts = NGramCounts.FromTokens(2, 4, Tiny);
        var model = NGramLm.MaximumLikelihood(counts);
        var before = model.Distribution([A]);

        counts.Add([A, D, A, D]);

        model.Distribution([A]).Should().Equal(before);
    }

    [Fact]
    public void SamplingIsSeededAndFollowsTheCounts()
    {
        int[] cycle = [.. Enumerable.Repeat(new[] { 0, 1, 2 }, 10).SelectMany(x => x)];
        var deterministic = NGramLm.MaximumLikelihood(NGramCounts.FromTokens(2, 5, cycle));
        deterministic.Generate([1], 7, new Random(0)).Should().Equal(2, 0, 1, 2, 0, 1, 2);

        var model = NGramLm.KneserNey(NGramCounts.FromTokens(3, 7, RandomTokens(500, 7, seed: 3)));
        var first = model.Generate([0, 1], 50, new Random(9));
        first.Should().Equal(model.Generate([0, 1], 50, new Random(9)));
        first.Should().NotEqual(model.Generate([0, 1], 50, new Random(10)));
        first.Should().OnlyContain(t => t >= 0 && t < 7);
    }

    [Fact]
    public void SaveAndLoadKeepTheModel()
    {
        var model = NGramLm.KneserNey(NGramCounts.FromTokens(3, 7, RandomTokens(500, 7, seed: 4)), discount: 0.6);
        using var stream = new MemoryStream();
        model.Save(stream);
        stream.Position = 0;

        var loaded = NGramLm.Load(stream);

        (loaded.Order, loaded.VocabularySize, loaded.Smoothing, loaded.Parameter).Should().Be((3, 7, NGramSmoothing.KneserNey, 0.6));
        foreach (var context in new[] { Array.Empty<int>(), [2], [3, 1], [6, 6] })
            loaded.Distribution(context).Should().Equal(model.Distribution(context));
    }

    [Fact]
    public void BadFilesGiveClearErrors()
    {
        var counts = NGramCounts.FromTokens(3, 7, RandomTokens(200, 7, seed: 5));
        var bytes = Saved(NGramLm.AddK(counts).Save);

        Load(bytes[..^20]).Should().Throw<InvalidDataException>().WithMessage("*truncated*");
        Load(bytes[..10]).Should().Throw<InvalidDataException>().WithMessage("*truncated*");
        var flipped = bytes.ToArray();
        flipped[bytes.Length / 2] ^= 0x10;
        Load(flipped).Should().Throw<InvalidDataException>().WithMessage("*corrupt*");
        Load("{\"kind\": \"char\"}"u8.ToArray()).Should().Throw<InvalidDataException>().WithMessage("*not an n-gram file*");
        Load(Saved(counts.Save)).Should().Throw<InvalidDataException>().WithMessage("*counts only*");
        NGramCounts.Load(new MemoryStream(Saved(counts.Save))).Grams(3).Should().BeEquivalentTo(counts.Grams(3));
    }

    [Fact]
    public void BadArgumentsAreNamed()
    {
        var counts = NGramCounts.FromTokens(2, 4, Tiny);
        FluentActions.Invoking(() => new NGramCounts(7, 4)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("order");
        FluentActions.Invoking(() => NGramLm.KneserNey(counts, 1.5)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("discount");
        FluentActions.Invoking(() => NGramLm.AddK(counts, 0)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("k");
        NGramLm.AddK(counts).Invoking(m => m.Probability([A], 4)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("token");
        NGramLm.AddK(counts).Invoking(m => m.Probability([9], A)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("context");
        counts.Invoking(c => c.Add([0, 4])).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("tokens");
        counts.Invoking(c => c.Merge(new NGramCounts(3, 4))).Should().Throw<ArgumentException>().WithParameterName("other");
    }

    private static byte[] Saved(Action<Stream> save)
    {
        using var stream = new MemoryStream();
        save(stream);
        return stream.ToArray();
    }

    private static Func<NGramLm> Load(byte[] bytes) => () => NGramLm.Load(new MemoryStream(bytes));
}
