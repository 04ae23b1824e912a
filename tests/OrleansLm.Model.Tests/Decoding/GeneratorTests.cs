using OrleansLm.Model.Decoding;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests.Decoding;

[Collection(NativeStateCollection.Name)]
public class GeneratorTests
{
    /// <summary>Next-token probabilities after token 0 in <see cref="Crafted"/>: no ties, no round cumulative sums.</summary>
    private static readonly double[] Q = [0.05, 0.4, 0.1, 0.3, 0.15];

    /// <summary>
    /// p-value below which a sample is said not to come from the expected distribution. A correct sampler fails a
    /// case with probability 1e-6 (the seeds are fixed, so a run is reproducible either way); a sampler off by a
    /// temperature of 1.1 scores p ≈ 1e-11 with 20,000 draws (see <see cref="ChiSquareDetectsASlightlyWrongDistribution"/>).
    /// </summary>
    private const double PValueThreshold = 1e-6;

    private const int Draws = 20_000;

    [Theory]
    [InlineData("MaxNewTokens")]
    [InlineData("Temperature")]
    [InlineData("TopK")]
    [InlineData("TopP")]
    [InlineData("RepetitionPenalty")]
    [InlineData("NumSamples")]
    [InlineData("StopSequences")]
    public void InvalidOptionsNameTheField(string field)
    {
        IEnumerable<Func<SamplingOptions>> invalid = field switch
        {
            "MaxNewTokens" => [() => new SamplingOptions { MaxNewTokens = 0 }],
            "Temperature" => [() => new SamplingOptions { Temperature = -0.1 }, () => new SamplingOptions { Temperature = double.NaN },
                () => new SamplingOptions { Temperature = double.PositiveInfinity }],
            "TopK" => [() => new SamplingOptions { TopK = -1 }],
            "TopP" => [() => new SamplingOptions { TopP = 0 }, () => new SamplingOptions { TopP = 1.01 }, () => new SamplingOptions { TopP = double.NaN }],
            "RepetitionPenalty" => [() => new SamplingOptions { RepetitionPenalty = 0 }, () => new SamplingOptions { RepetitionPenalty = double.NaN }],
            "NumSamples" => [() => new SamplingOptions { NumSamples = 0 }],
            "StopSequences" => [() => new SamplingOptions { StopSequences = [[1], []] }],
            _ => throw new ArgumentOutOfRangeException(nameof(field)),
        };
        foreach (var make in invalid)
            make.Should().Throw<ArgumentException>().Which.ParamName.Should().Be(field);
    }

    [Fact]
    public void BadPromptsAndStopTokensAreRejected()
    {
        using var model = TableLm.Uniform(4);
        var generate = (IReadOnlyList<int> prompt, SamplingOptions options) => () => Generator.Generate(model, prompt, options);
        generate([], new SamplingOptions()).Should().Throw<ArgumentException>().Which.ParamName.Should().Be("prompt");
        generate([1, 4], new SamplingOptions()).Should().Throw<ArgumentException>().WithMessage("prompt[1] = 4*");
        generate([1], new SamplingOptions { StopSequences = [[9]] }).Should().Throw<ArgumentException>()
            .Which.ParamName.Should().Be("StopSequences");
    }

    [Fact]
    public void GreedyPicksTheArgmaxAndReportsTheModelsLogProbs()
    {
        using var model = TableLm.Random(16, seed: 1, keyedBySum: true);
        int[] prompt = [3, 7];
        var greedy = Generator.Generate(model, prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 30 }).Single();

        greedy.Tokens.Should().HaveCount(30);
        greedy.FinishReason.Should().Be(FinishReason.Length);
        var history = prompt.ToList();
        for (var i = 0; i < greedy.Tokens.Count; i++)
        {
            var reference = model.NextTokenLogProbs(history);
            greedy.Tokens[i].Should().Be(Array.IndexOf(reference, reference.Max()), $"token {i} is the argmax");
            greedy.LogProbs[i].Should().BeApproximately(reference[greedy.Tokens[i]], 1e-6);
            history.Add(greedy.Tokens[i]);
        }
    }

    [Fact]
    public void TopKOfOneIsGreedy()
    {
        using var model = TableLm.Random(16, seed: 2, keyedBySum: true);
        int[] prompt = [5];
        var greedy = Generator.Generate(model, prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 40 }).Single();
        var topOne = Generator.Generate(model, prompt, new SamplingOptions { TopK = 1, Seed = 11, MaxNewTokens = 40, NumSamples = 3 });

        topOne.Should().HaveCount(3).And.OnlyContain(g => g.Tokens.SequenceEqual(greedy.Tokens) && g.LogProbs.SequenceEqual(greedy.LogProbs));
    }

    [Fact]
    public void TheSameSeedGivesTheSameSamplesWhateverElseDrawsRandomNumbers()
    {
        // 32 tokens from 64 equally likely ones: two different seeds collide with probability 64^-32 = 2^-192.
        using var model = TableLm.Uniform(64);
        SamplingOptions Options(int seed) => new() { Seed = seed, MaxNewTokens = 32, NumSamples = 2 };

        var first = Generator.Generate(model, [0], Options(7));
        LibTorch.ManualSeed(123);
        using (DisposeScope.Enter()) Tensor.Rand([1000]);   // libtorch's generator moves; ours must not care
        var again = Generator.Generate(model, [0], Options(7));
        var other = Generator.Generate(model, [0], Options(8));

        again.Select(g => g.Tokens).Should().BeEquivalentTo(first.Select(g => g.Tokens), o => o.WithStrictOrdering());
        other[0].Tokens.Should().NotEqual(first[0].Tokens);
        first[1].Tokens.Should().NotEqual(first[0].Tokens, "the samples of one call are independent draws");
    }

    [Theory]
    [InlineData(1.0, 0, 1.0, "0,1,2,3,4")]
    [InlineData(0.5, 0, 1.0, "0,1,2,3,4")]
    [InlineData(1.0, 3, 1.0, "1,3,4")]
    [InlineData(1.0, 0, 0.86, "1,2,3,4")]    // ranked mass 0.4, 0.7, 0.85 < 0.86 ≤ 0.95
    [InlineData(2.0, 2, 0.9, "1,3")]          // at T = 2 the top two hold 0.54 and 0.46
    public void SamplesFollowTheFilteredDistribution(double temperature, int topK, double topP, string kept)
    {
        using var model = Crafted();
        var options = new SamplingOptions { Temperature = temperature, TopK = topK, TopP = topP, MaxNewTokens = 1, NumSamples = Draws, Seed = 42 };
        var counts = Count(Generator.Generate(model, [0], options));

        // p_i ∝ q_i^(1/T) on the kept tokens (written out by hand above), 0 elsewhere.
        var keptTokens = kept.Split(',').Select(int.Parse).ToHashSet();
        var weights = Q.Select((q, i) => keptTokens.Contains(i) ? Math.Pow(q, 1 / temperature) : 0).ToArray();
        var expected = weights.Select(w => w / weights.Sum()).ToArray();

        ChiSquarePValue(counts, expected).Should().BeGreaterThan(PValueThreshold, $"counts [{string.Join(", ", counts)}] should follow [{string.Join(", ", expected.Select(p => p.ToString("F4")))}]");
    }

    [Fact]
    public void ChiSquareDetectsASlightlyWrongDistribution()
    {
        using var model = Crafted();
        var counts = Count(Generator.Generate(model, [0], new SamplingOptions { MaxNewTokens = 1, NumSamples = Draws, Seed = 42 }));
        var tempered = Q.Select(q => Math.Pow(q, 1 / 1.1)).ToArray();
        var wrong = tempered.Select(w => w / tempered.Sum()).ToArray();

        ChiSquarePValue(counts, Q).Should().BeGreaterThan(PValueThreshold);
        ChiSquarePValue(counts, wrong).Should().BeLessThan(PValueThreshold, "a sampler off by temperature 1.1 must fail the test");
    }

    [Theory]
    [InlineData(0.39, "1", "3")]
    [InlineData(0.41, "1,3", "3,1")]          // row 1 = [0.15, 0.3, 0.1, 0.4, 0.05] ranks tokens 3, 1, 0, 2, 4
    [InlineData(0.69, "1,3", "3,1")]
    [InlineData(0.71, "1,3,4", "3,1,0")]
    [InlineData(0.84, "1,3,4", "3,1,0")]
    [InlineData(0.86, "1,2,3,4", "3,1,0,2")]
    [InlineData(0.96, "0,1,2,3,4", "0,1,2,3,4")]
    [InlineData(1.0, "0,1,2,3,4", "0,1,2,3,4")]
    public void TopPKeepsExactlyTheSmallestSetWithEnoughMass(double p, string keptInRow0, string keptInRow1)
    {
        using var scope = DisposeScope.Enter();
        var probabilities = Q.Concat(Q.Reverse()).ToArray();   // row 1 holds Q reversed, so each row sorts differently
        var logits = Tensor.FromArray(probabilities.Select(q => Math.Log(q)).ToArray(), [2, Q.Length]);
        var filtered = LogitsFilters.TopP(logits, p).ToArray<double>();

        for (var row = 0; row < 2; row++)
        {
            var kept = (row == 0 ? keptInRow0 : keptInRow1).Split(',').Select(int.Parse).ToHashSet();
            for (var v = 0; v < Q.Length; v++)
            {
                var i = row * Q.Length + v;
                if (kept.Contains(v)) filtered[i].Should().Be(Math.Log(probabilities[i]), $"row {row} keeps token {v} unchanged");
                else filtered[i].Should().Be(double.NegativeInfinity, $"row {row} drops token {v}");
            }
        }
    }

    [Fact]
    public void TopKKeepsTheKLargestLogitsOfEachRow()
    {
        using var scope = DisposeScope.Enter();
        var logits = Tensor.FromArray<float>([0.5f, 3, -1, 2, 0, 1, 5, -2, 4, 3], [2, 5]);
        var filtered = LogitsFilters.TopK(logits, 2).ToArray<float>();

        var inf = float.NegativeInfinity;
        filtered.Should().Equal(inf, 3, inf, 2, inf, inf, 5, inf, 4, inf);
    }

    [Fact]
    public void RepetitionPenaltyDividesPositiveAndMultipliesNegativeLogitsOfSeenTokens()
    {
        using var scope = DisposeScope.Enter();
        var logits = Tensor.FromArray<float>([2, -1, 0.5f, 0.1f, 3, 1, -2, 0], [2, 4]);
        var penalised = LogitsFilters.RepetitionPenalty(logits, [[0, 1, 0], [2]], 2).ToArray<float>();

        penalised.Should().Equal(1, -2, 0.5f, 0.1f, 3, 1, -4, 0);
        var before = logits.Softmax(-1).ToArray<float>();
        var after = Tensor.FromArray<float>(penalised, [2, 4]).Softmax(-1).ToArray<float>();
        foreach (var seen in new[] { 0, 1, 6 }) after[seen].Should().BeLessThan(before[seen]);
        foreach (var unseen in new[] { 2, 3, 4, 5, 7 }) after[unseen].Should().BeGreaterThan(before[unseen]);
    }

    [Fact]
    public void RepetitionPenaltyStopsGreedyFromRepeatingAToken()
    {
        // After token 0, token 0 itself is likeliest (logit 2) and token 1 next (1.5): greedy loops on 0.
        var logits = new float[3, 3];
        logits[0, 0] = 2;
        logits[0, 1] = 1.5f;
        using var model = new TableLm(logits);
        var plain = Generator.Generate(model, [0], new SamplingOptions { Temperature = 0, MaxNewTokens = 3 }).Single();
        var penalised = Generator.Generate(model, [0], new SamplingOptions { Temperature = 0, MaxNewTokens = 3, RepetitionPenalty = 2 }).Single();

        plain.Tokens.Should().Equal(0, 0, 0);
        penalised.Tokens[0].Should().Be(1, "2 / 2 = 1 now loses to 1.5");
        penalised.LogProbs[0].Should().BeApproximately(model.NextTokenLogProbs([0])[1], 1e-6, "log-probs are the model's, not the penalised ones");
    }

    [Fact]
    public void StopSequencesEndGenerationAndAreLeftOut()
    {
        using var model = Cycle(5);   // greedy from 1: 2, 3, 4, 0, 1, 2, ...
        Generation Greedy(int[] prompt, params int[][] stops) =>
            Generator.Generate(model, prompt, new SamplingOptions { Temperature = 0, MaxNewTokens = 8, StopSequences = stops }).Single();

        var stopped = Greedy([1], [4, 4], [3, 4]);
        stopped.Tokens.Should().Equal(2);
        stopped.LogProbs.Should().HaveCount(1);
        stopped.FinishReason.Should().Be(FinishReason.Stop);

        var spanning = Greedy([1], [1, 2]);   // the prompt's 1 followed by the first 2 does not count
        spanning.Tokens.Should().Equal(2, 3, 4, 0);
        spanning.FinishReason.Should().Be(FinishReason.Stop);

        var unmatched = Greedy([1], [4, 4]);
        unmatched.Tokens.Should().Equal(2, 3, 4, 0, 1, 2, 3, 4);
        unmatched.FinishReason.Should().Be(FinishReason.Length);
    }

    [Fact]
    public void SamplesThatStopEarlyLeaveTheOthersDecodingCorrectly()
    {
        // The model's logits depend on the whole history, so dropping finished rows from the decoding state with
        // the wrong rows would show up as log-probs that disagree with teacher-forced scoring.
        using var model = TableLm.Random(8, seed: 3, keyedBySum: true, scale: 1);
        int[] prompt = [2, 5];
        var baseline = NativeTensors.SettledCount();
        var samples = Generator.Generate(model, prompt, new SamplingOptions { Seed = 5, MaxNewTokens = 12, NumSamples = 16, StopSequences = [[0]] });
        LibTorch.LiveTensorCount.Should().Be(baseline, "generation disposes every tensor it creates");

        samples.Select(s => s.FinishReason).Should().Contain(FinishReason.Stop).And.Contain(FinishReason.Length);
        samples.Select(s => s.Tokens.Count).Distinct().Should().HaveCountGreaterThan(2);
        foreach (var sample in samples)
        {
            var full = prompt.Concat(sample.Tokens).Concat(sample.FinishReason == FinishReason.Stop ? new[] { 0 } : []).ToArray();
            var scored = Scorer.Score(model, full).Surprisal.Skip(prompt.Length - 1).Take(sample.Tokens.Count);
            sample.LogProbs.Should().Equal(scored.Select(s => -s), (a, b) => Math.Abs(a - b) < 1e-6);
            sample.Tokens.Should().NotContain(0);
        }
    }

    [Theory]
    [InlineData(0.5)]
    [InlineData(3.0)]
    [InlineData(33.4)]
    public void ChiSquareSurvivalMatchesItsClosedForms(double x)
    {
        ChiSquareSurvival(x, 2).Should().BeApproximately(Math.Exp(-x / 2), 1e-12);
        ChiSquareSurvival(x, 4).Should().BeApproximately(Math.Exp(-x / 2) * (1 + x / 2), 1e-12);
        // k = 1: P(|Z| > √x) for a standard normal Z, checked by integrating its density numerically.
        var z = Math.Sqrt(x);
        var tail = 2 * Integrate(t => Math.Exp(-t * t / 2) / Math.Sqrt(2 * Math.PI), z, z + 40);
        ChiSquareSurvival(x, 1).Should().BeApproximately(tail, 1e-9);
    }

    /// <summary>A bigram model whose row 0 is ln <see cref="Q"/>.</summary>
    private static TableLm Crafted()
    {
        var probabilities = new double[Q.Length, Q.Length];
        for (var i = 0; i < Q.Length; i++)
            for (var j = 0; j < Q.Length; j++) probabilities[i, j] = i == 0 ? Q[j] : 1.0 / Q.Length;
        return TableLm.FromProbabilities(probabilities);
    }

    /// <summary>A bigram model that follows token i with i + 1 mod V almost surely.</summary>
    private static TableLm Cycle(int vocabulary)
    {
        var logits = new float[vocabulary, vocabulary];
        for (var i = 0; i < vocabulary; i++) logits[i, (i + 1) % vocabulary] = 10;
        return new TableLm(logits);
    }

    private static int[] Count(IReadOnlyList<Generation> samples)
    {
        var counts = new int[Q.Length];
        foreach (var sample in samples) counts[sample.Tokens.Single()]++;
        return counts;
    }

    /// <summary>Pearson's χ² goodness-of-fit p-value; a token with expected probability 0 must never be drawn.</summary>
    private static double ChiSquarePValue(int[] counts, double[] expected)
    {
        var total = counts.Sum();
        var statistic = 0.0;
        var cells = 0;
        for (var i = 0; i < counts.Length; i++)
        {
            if (expected[i] == 0)
            {
                if (counts[i] > 0) return 0;
                continue;
            }
            var e = total * expected[i];
            statistic += (counts[i] - e) * (counts[i] - e) / e;
            cells++;
        }
        return ChiSquareSurvival(statistic, cells - 1);
    }

    private static double Integrate(Func<double, double> f, double from, double to, int intervals = 200_000)
    {
        // Simpson's rule.
        var h = (to - from) / intervals;
        var sum = f(from) + f(to);
        for (var i = 1; i < intervals; i++) sum += f(from + i * h) * (i % 2 == 1 ? 4 : 2);
        return sum * h / 3;
    }

    /// <summary>
    /// P(χ²_k > x) = 1 − P(k/2, x/2), with the regularised lower incomplete gamma from its power series
    /// P(a, y) = yᵃ e⁻ʸ / Γ(a + 1) · Σₙ yⁿ / ((a + 1)⋯(a + n)). Γ of an integer or half-integer is exact.
    /// </summary>
    private static double ChiSquareSurvival(double x, int degreesOfFreedom)
    {
        if (x > 1000) return 0;   // below 1e-150 for the few degrees of freedom used here
        var a = degreesOfFreedom / 2.0;
        var y = x / 2;
        double term = 1, sum = 1;
        for (var n = 1; term > 1e-17 * sum; n++) sum += term *= y / (a + n);
        var logGamma = 0.0;   // ln Γ(a + 1) = ln a + ln(a − 1) + … down to Γ(1) = 1 or Γ(1/2) = √π
        var factor = a;
        for (; factor > 0.75; factor--) logGamma += Math.Log(factor);
        if (factor > 0.25) logGamma += Math.Log(factor) + 0.5 * Math.Log(Math.PI);
        return 1 - Math.Exp(a * Math.Log(y) - y - logGamma + Math.Log(sum));
    }
}
