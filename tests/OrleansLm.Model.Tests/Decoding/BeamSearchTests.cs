using OrleansLm.Model.Decoding;

namespace OrleansLm.Model.Tests.Decoding;

[Collection(NativeStateCollection.Name)]
public class BeamSearchTests
{
    [Fact]
    public void WidthOneIsGreedy()
    {
        using var model = TableLm.Random(16, seed: 5, keyedBySum: true);
        int[] prompt = [4, 9];
        var greedy = Generator.Generate(model, prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 30 }).Single();
        var beam = BeamSearch.Search(model, prompt, new BeamSearchOptions { BeamWidth = 1, MaxNewTokens = 30 }).Single();

        beam.Tokens.Should().Equal(greedy.Tokens);
        beam.LogProbability.Should().BeApproximately(greedy.LogProbs.Sum(), 1e-9);
    }

    [Fact]
    public void FindsALikelierSequenceThanMyopicGreedy()
    {
        // After 0: token 1 (0.55) or token 2 (0.45). After 1 the mass spreads over 3, 4, 5; after 2 it sits on 3.
        // Greedy takes 1 and ends near 0.55 · 1/3 ≈ 0.18; the better path 0 → 2 → 3 has probability ≈ 0.45.
        const double tiny = 1e-6;
        var p = new double[6, 6];
        for (var i = 0; i < 6; i++)
            for (var j = 0; j < 6; j++) p[i, j] = tiny;
        p[0, 1] = 0.55;
        p[0, 2] = 0.45;
        p[1, 3] = p[1, 4] = p[1, 5] = 1.0 / 3;
        p[2, 3] = 1;
        for (var i = 3; i < 6; i++) p[i, 0] = 1;
        using var model = TableLm.FromProbabilities(p);

        var greedy = Generator.Generate(model, [0], new SamplingOptions { Temperature = 0, MaxNewTokens = 2 }).Single();
        var beam = BeamSearch.Search(model, [0], new BeamSearchOptions { BeamWidth = 2, MaxNewTokens = 2, LengthPenalty = 0 }).Single();

        greedy.Tokens.Should().Equal(1, 3);
        beam.Tokens.Should().Equal(2, 3);
        beam.LogProbability.Should().BeGreaterThan(greedy.LogProbs.Sum() + 0.5);
        beam.LogProbability.Should().BeApproximately(model.LogProbability([0], beam.Tokens), 1e-6);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-0.5)]
    public void AWideEnoughBeamFindsTheExhaustiveOptimum(double lengthPenalty)
    {
        // With 3 live continuations per step and 3 steps there are at most 27 live hypotheses, so a beam of 64
        // keeps every one: beam search must then return exactly the best-scored sequences of all.
        const int endToken = 0, maxTokens = 3;
        using var model = TableLm.Random(4, seed: 6, keyedBySum: true, scale: 2);
        int[] prompt = [1];
        var all = Enumerate(4, endToken, maxTokens)
            .Select(s => (Tokens: s, Score: model.LogProbability(prompt, s) / Math.Pow(s.Length, lengthPenalty)))
            .OrderByDescending(h => h.Score).Take(5).ToList();

        var beams = BeamSearch.Search(model, prompt,
            new BeamSearchOptions { BeamWidth = 64, MaxNewTokens = maxTokens, EndToken = endToken, LengthPenalty = lengthPenalty, NumReturn = 5 });

        beams.Select(b => b.Tokens).Should().BeEquivalentTo(all.Select(h => h.Tokens), o => o.WithStrictOrdering());
        beams.Select(b => b.Score).Should().Equal(all.Select(h => h.Score), (a, b) => Math.Abs(a - b) < 1e-6);
    }

    [Theory]
    [InlineData(0.0, new[] { 0 })]
    [InlineData(2.0, new[] { 2, 2, 2, 2, 2 })]
    public void ALongerHypothesisCanWinAfterAShortOneHasEnded(double lengthPenalty, int[] best)
    {
        // After the prompt the end token 0 has p = 0.9 (score ln 0.9 ≈ −0.105 at length 1) and token 2 has 0.1;
        // 2 then repeats almost surely. At α = 2 the run 2 2 2 2 2 scores ln 0.1 / 5² ≈ −0.092 and wins, but only a
        // search that keeps going after the first hypothesis ended (its live beam's bound is −2.3 / 5², not −2.3)
        // finds it.
        const double tiny = 1e-9;
        var p = new double[3, 3];
        for (var i = 0; i < 3; i++)
            for (var j = 0; j < 3; j++) p[i, j] = tiny;
        p[1, 0] = 0.9;
        p[1, 2] = 0.1;
        p[2, 2] = 1;
        p[0, 0] = 1;
        using var model = TableLm.FromProbabilities(p);

        var beam = BeamSearch.Search(model, [1],
            new BeamSearchOptions { BeamWidth = 1, MaxNewTokens = 5, EndToken = 0, LengthPenalty = lengthPenalty }).Single();

        beam.Tokens.Should().Equal(best);
    }

    [Fact]
    public void HypothesesCarryTheModelsLogProbsAndLengthPenalisedScores()
    {
        // The model depends on the whole history, so beams reordered with the wrong state rows would disagree
        // with teacher-forced scoring.
        using var model = TableLm.Random(8, seed: 7, keyedBySum: true, scale: 2);
        int[] prompt = [3, 1, 4];
        var beams = BeamSearch.Search(model, prompt,
            new BeamSearchOptions { BeamWidth = 4, MaxNewTokens = 6, EndToken = 0, LengthPenalty = 1, NumReturn = 4 });

        beams.Should().HaveCount(4);
        beams.Select(b => b.Score).Should().BeInDescendingOrder();
        foreach (var beam in beams)
        {
            var scored = Scorer.Score(model, [.. prompt, .. beam.Tokens]).Surprisal.Skip(prompt.Length - 1);
            beam.LogProbs.Should().Equal(scored.Select(s => -s), (a, b) => Math.Abs(a - b) < 1e-6);
            beam.LogProbability.Should().BeApproximately(beam.LogProbs.Sum(), 1e-9);
            beam.Score.Should().BeApproximately(beam.LogProbability / beam.Tokens.Count, 1e-9);
            (beam.Tokens.Count == 6 || beam.Tokens[^1] == 0).Should().BeTrue("a hypothesis ends at the end token or the length limit");
            beam.Tokens.SkipLast(1).Should().NotContain(0);
        }
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        using var model = TableLm.Uniform(4);
        FluentActions.Invoking(() => new BeamSearchOptions { BeamWidth = 0 }).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("BeamWidth");
        FluentActions.Invoking(() => new BeamSearchOptions { LengthPenalty = double.NaN }).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("LengthPenalty");
        FluentActions.Invoking(() => BeamSearch.Search(model, [1], new BeamSearchOptions { BeamWidth = 2, NumReturn = 3 }))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("NumReturn");
        FluentActions.Invoking(() => BeamSearch.Search(model, [1], new BeamSearchOptions { EndToken = 4 }))
            .Should().Throw<ArgumentException>().Which.ParamName.Should().Be("EndToken");
    }

    /// <summary>Every sequence beam search could return: ended by the end token, or reaching the limit.</summary>
    private static IEnumerable<int[]> Enumerate(int vocabulary, int endToken, int maxTokens)
    {
        IEnumerable<int[]> live = [[]];
        for (var length = 1; length <= maxTokens; length++)
        {
            var extended = live.SelectMany(s => Enumerable.Range(0, vocabulary).Select(t => (int[])[.. s, t])).ToList();
            foreach (var s in extended.Where(s => s[^1] == endToken || length == maxTokens)) yield return s;
            live = extended.Where(s => s[^1] != endToken).ToList();
        }
    }
}
