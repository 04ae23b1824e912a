using OrleansLm.Model.Decoding;
using OrleansLm.Model.Models;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Models;

[Collection(NativeStateCollection.Name)]
public sealed class NGramLanguageModelTests : IDisposable
{
    private const int Vocabulary = 6;

    private readonly string directory = Directory.CreateTempSubdirectory("olm-ngram-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    /// <summary>Skewed tokens over all but the last id, so every smoothing meets an unseen token and unseen contexts.</summary>
    private static int[] Corpus(int length, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, length).Select(_ => (int)(Math.Pow(random.NextDouble(), 2) * (Vocabulary - 1)))];
    }

    private static NGramLm Build(NGramSmoothing smoothing, int order, int seed = 1)
    {
        var counts = NGramCounts.FromTokens(order, Vocabulary, Corpus(300, seed));
        return smoothing switch
        {
            NGramSmoothing.MaximumLikelihood => NGramLm.MaximumLikelihood(counts),
            NGramSmoothing.AddK => NGramLm.AddK(counts, k: 0.4),
            _ => NGramLm.KneserNey(counts, discount: 0.7),
        };
    }

    public static TheoryData<NGramSmoothing, int> Models()
    {
        var data = new TheoryData<NGramSmoothing, int>();
        foreach (var smoothing in Enum.GetValues<NGramSmoothing>())
            foreach (var order in new[] { 1, 2, 3, 5 })
                data.Add(smoothing, order);
        return data;
    }

    /// <summary>The history NGramLm conditions on before position <paramref name="t"/> + 1: at most Order − 1 tokens.</summary>
    private static int[] Context(IReadOnlyList<int> sequence, int t, int order) => [.. sequence.Take(t + 1).TakeLast(order - 1)];

    [Theory]
    [MemberData(nameof(Models))]
    public void ForwardsSoftmaxIsTheDistributionAtEveryPosition(NGramSmoothing smoothing, int order)
    {
        var lm = Build(smoothing, order);
        using var model = new NGramLanguageModel(lm);
        // Row 1 holds the never-seen last id, so maximum likelihood meets unseen contexts and zero probabilities.
        int[][] rows = [Corpus(14, seed: 2), [Vocabulary - 1, 0, Vocabulary - 1, Vocabulary - 1, 3, 1, 2, 0, 4, 4, 4, 1, 0, Vocabulary - 1]];
        using var scope = DisposeScope.Enter();

        var logits = model.Forward(Tensor.FromArray(rows.SelectMany(r => r.Select(t => (long)t)).ToArray(), [2, 14]));

        logits.DType.Should().Be(ScalarType.Float32);
        logits.Shape.Should().Equal(2, 14, Vocabulary);
        var probabilities = logits.To(ScalarType.Float64).Softmax(-1).ToArray<double>();
        var raw = logits.ToArray<float>();
        probabilities.Should().OnlyContain(p => !double.IsNaN(p));
        for (var b = 0; b < rows.Length; b++)
            for (var t = 0; t < rows[b].Length; t++)
            {
                var expected = lm.Distribution(Context(rows[b], t, order));
                var at = (b * rows[b].Length + t) * Vocabulary;
                for (var w = 0; w < Vocabulary; w++)
                {
                    probabilities[at + w].Should().BeApproximately(expected[w], 1e-6, $"row {b}, position {t}, token {w}");
                    float.IsNegativeInfinity(raw[at + w]).Should().Be(expected[w] == 0, "a logit is −∞ exactly when P = 0");
                }
            }
    }

    [Theory]
    [InlineData(NGramSmoothing.MaximumLikelihood, 3)]
    [InlineData(NGramSmoothing.KneserNey, 4)]
    [InlineData(NGramSmoothing.AddK, 1)]
    public void StepEqualsTheLastRowOfForwardAfterAPromptAndSingleTokens(NGramSmoothing smoothing, int order)
    {
        using var model = new NGramLanguageModel(Build(smoothing, order));
        int[][] sequences = [Corpus(9, seed: 3), Corpus(9, seed: 4)];
        using var state = model.BeginDecoding(2);
        for (var length = 3; length <= 9; length++)
        {
            using var scope = DisposeScope.Enter();
            // The first call feeds a 3-token prompt, every later one a single token per row.
            var fed = length == 3 ? 3 : 1;
            var input = Tensor.FromArray(sequences.SelectMany(s => s[(length - fed)..length].Select(t => (long)t)).ToArray(), [2, fed]);
            var step = model.Step(state, input).ToArray<float>();
            var whole = model.Forward(Tensor.FromArray(sequences.SelectMany(s => s[..length].Select(t => (long)t)).ToArray(), [2, length]));
            var lastRow = whole.Narrow(1, length - 1, 1).ToArray<float>();

            step.Should().Equal(lastRow);
            state.Length.Should().Be(length);
        }
    }

    [Fact]
    public void GreedyGenerationWalksTheArgmaxOfTheDistribution()
    {
        var lm = Build(NGramSmoothing.KneserNey, order: 3);
        using var model = new NGramLanguageModel(lm);
        int[] prompt = [1, 0];

        var generation = Generator.Generate(model, prompt, new SamplingOptions { MaxNewTokens = 25, Temperature = 0 })[0];

        var walk = prompt.ToList();
        var logProbs = new List<double>();
        for (var i = 0; i < 25; i++)
        {
            var distribution = lm.Distribution(Context(walk, walk.Count - 1, lm.Order));
            var best = Array.IndexOf(distribution, distribution.Max());
            logProbs.Add(Math.Log(distribution[best]));
            walk.Add(best);
        }
        generation.Tokens.Should().Equal(walk.Skip(prompt.Length));
        generation.LogProbs.Should().Equal(logProbs, (a, b) => Math.Abs(a - b) < 1e-5);
        generation.FinishReason.Should().Be(FinishReason.Length);
    }

    [Fact]
    public void SamplingNeverDrawsAZeroProbabilityTokenAndASeedFixesTheText()
    {
        // Maximum likelihood on a cycle is deterministic: every token but the next has P = 0 (logit −∞), which no
        // filter may turn into NaN or a draw. The stop sequence ends every sample at its first 0.
        int[] cycle = [.. Enumerable.Repeat(new[] { 0, 1, 2, 3, 4 }, 20).SelectMany(t => t)];
        using var model = new NGramLanguageModel(NGramLm.MaximumLikelihood(NGramCounts.FromTokens(2, Vocabulary, cycle)));
        var options = new SamplingOptions
        {
            MaxNewTokens = 12, Temperature = 1.3, TopK = 3, TopP = 0.9, RepetitionPenalty = 1.5, NumSamples = 4, StopSequences = [[0]],
        };

        foreach (var seed in new[] { 1, 2, 3 })
            foreach (var generation in Generator.Generate(model, [2], options with { Seed = seed }))
            {
                generation.Tokens.Should().Equal(3, 4);
                generation.LogProbs.Should().Equal(0, 0);
                generation.FinishReason.Should().Be(FinishReason.Stop);
            }

        using var smoothed = new NGramLanguageModel(Build(NGramSmoothing.AddK, order: 2));
        var sampling = new SamplingOptions { MaxNewTokens = 40, Seed = 11 };
        var first = Generator.Generate(smoothed, [0], sampling)[0].Tokens;
        first.Should().Equal(Generator.Generate(smoothed, [0], sampling)[0].Tokens);
        first.Should().NotEqual(Generator.Generate(smoothed, [0], sampling with { Seed = 12 })[0].Tokens);
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void ScorersSurprisalIsTheCrossEntropyOfTheTokensAfterTheFirst(NGramSmoothing smoothing, int order)
    {
        var lm = Build(smoothing, order);
        using var model = new NGramLanguageModel(lm);
        var text = Corpus(200, seed: 5);
        var shorter = Corpus(7, seed: 6);

        var scores = Scorer.Score(model, [text, shorter], batchSize: 2);

        foreach (var (score, tokens) in scores.Zip([text, shorter]))
        {
            // CrossEntropy averages over every token, the first (given nothing) included; the scorer starts at the second.
            var total = lm.CrossEntropy(tokens) * tokens.Length + Math.Log(lm.Probability([], tokens[0]));
            score.Surprisal.Should().HaveCount(tokens.Length - 1);
            score.AverageSurprisal.Should().BeApproximately(total / (tokens.Length - 1), 1e-5);
            for (var t = 0; t < tokens.Length - 1; t++)
                score.Surprisal[t].Should().BeApproximately(-Math.Log(lm.Probability(Context(tokens, t, order), tokens[t + 1])), 1e-5);
        }
    }

    [Fact]
    public void AZeroProbabilityTokenHasInfiniteSurprisalNotNaN()
    {
        int[] cycle = [.. Enumerable.Repeat(new[] { 0, 1, 2 }, 10).SelectMany(t => t)];
        var lm = NGramLm.MaximumLikelihood(NGramCounts.FromTokens(2, Vocabulary, cycle));
        using var model = new NGramLanguageModel(lm);

        var score = Scorer.Score(model, [0, 1, 0]);

        score.Surprisal[0].Should().BeApproximately(0, 1e-6);
        score.Surprisal[1].Should().Be(double.PositiveInfinity);
        double.IsPositiveInfinity(lm.CrossEntropy([0, 1, 0])).Should().BeTrue("the two agree");
    }

    [Fact]
    public void LossIsTheMeanSurprisalOfTheTargets()
    {
        var lm = Build(NGramSmoothing.KneserNey, order: 3);
        using var model = new NGramLanguageModel(lm);
        var sequence = Corpus(21, seed: 7);
        using var scope = DisposeScope.Enter();

        var loss = model.Loss(
            Tensor.FromArray(sequence[..20].Select(t => (long)t).ToArray(), [2, 10]),
            Tensor.FromArray(sequence[1..].Select(t => (long)t).ToArray(), [2, 10])).ToDouble();

        // Row 1 starts afresh at token 10: its first prediction sees only that token.
        var expected = Enumerable.Range(0, 20).Average(i =>
            -Math.Log(lm.Probability(sequence[(i < 10 ? Math.Max(0, i - 1) : Math.Max(10, i - 1))..(i + 1)], sequence[i + 1])));
        loss.Should().BeApproximately(expected, 1e-5);
    }

    [Fact]
    public void SelectReordersAndRepeatsTheRowsHistories()
    {
        using var model = new NGramLanguageModel(Build(NGramSmoothing.KneserNey, order: 3));
        int[][] prompts = [[0, 1, 2], [3, 3, 1], [2, 0, 4]];
        using var state = model.BeginDecoding(3);
        using var scope = DisposeScope.Enter();
        model.Step(state, Tensor.FromArray(prompts.SelectMany(p => p.Select(t => (long)t)).ToArray(), [3, 3]));

        state.Select(Tensor.FromArray<long>([2, 0, 2]));
        var logits = model.Step(state, Tensor.FromArray<long>([1, 4, 3], [3, 1])).ToArray<float>();

        int[][] expected = [[.. prompts[2], 1], [.. prompts[0], 4], [.. prompts[2], 3]];
        var forward = model.Forward(Tensor.FromArray(expected.SelectMany(p => p.Select(t => (long)t)).ToArray(), [3, 4]))
            .Narrow(1, 3, 1).ToArray<float>();
        logits.Should().Equal(forward);
        state.Length.Should().Be(4);

        state.Invoking(s => s.Select(Tensor.FromArray<long>([3]))).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("rows");
    }

    [Fact]
    public void WideBeamSearchFindsTheMostLikelyContinuation()
    {
        var lm = Build(NGramSmoothing.KneserNey, order: 2);
        using var model = new NGramLanguageModel(lm);
        int[] prompt = [4];
        // Width V² keeps every 2-token prefix, so three steps of beam search are exhaustive.
        var hypotheses = BeamSearch.Search(model, prompt, new BeamSearchOptions
        {
            BeamWidth = Vocabulary * Vocabulary, MaxNewTokens = 3, LengthPenalty = 0, NumReturn = 3,
        });

        double LogProbability(int[] continuation) => continuation
            .Select((token, i) => Math.Log(lm.Probability([.. prompt, .. continuation[..i]], token))).Sum();
        var exhaustive = (from a in Enumerable.Range(0, Vocabulary)
                          from b in Enumerable.Range(0, Vocabulary)
                          from c in Enumerable.Range(0, Vocabulary)
                          let continuation = new[] { a, b, c }
                          orderby LogProbability(continuation) descending
                          select continuation).Take(3).ToList();
        hypotheses.Select(h => h.Tokens).Should().BeEquivalentTo(exhaustive, o => o.WithStrictOrdering());
        foreach (var hypothesis in hypotheses)
            hypothesis.LogProbability.Should().BeApproximately(LogProbability([.. hypothesis.Tokens]), 1e-5);
    }

    [Fact]
    public void BeamSearchOnAModelWithZeroProbabilitiesKeepsOnlyPossibleHypotheses()
    {
        // Each token has one possible successor, so a beam of 3 finds one hypothesis: the rest have probability 0.
        int[] cycle = [.. Enumerable.Repeat(new[] { 0, 1, 2, 3 }, 10).SelectMany(t => t)];
        using var model = new NGramLanguageModel(NGramLm.MaximumLikelihood(NGramCounts.FromTokens(2, Vocabulary, cycle)));

        var hypotheses = BeamSearch.Search(model, [1], new BeamSearchOptions { BeamWidth = 3, MaxNewTokens = 6, NumReturn = 3 });

        hypotheses.Should().ContainSingle();
        hypotheses[0].Tokens.Should().Equal(2, 3, 0, 1, 2, 3);
        hypotheses[0].LogProbs.Should().Equal(0, 0, 0, 0, 0, 0);
    }

    [Fact]
    public void ParameterCountIsTheNumberOfDistinctGrams()
    {
        var counts = NGramCounts.FromTokens(3, Vocabulary, Corpus(300, seed: 1));
        using var model = new NGramLanguageModel(NGramLm.KneserNey(counts));

        model.ParameterCount.Should().Be(Enumerable.Range(1, 3).Sum(order => (long)counts.Grams(order).Count()));
        model.Parameters().Should().BeEmpty();
        model.ContextLength.Should().BeNull();
        model.FlopsPerToken(128).Should().Be(0);
    }

    [Fact]
    public void BadTokensAndStatesAreRejected()
    {
        using var model = new NGramLanguageModel(Build(NGramSmoothing.AddK, order: 1));
        using var scope = DisposeScope.Enter();
        // Order 1 looks at no history, so the adapter itself must check the ids.
        model.Invoking(m => m.Forward(Tensor.FromArray<long>([0, Vocabulary], [1, 2])))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("tokens");
        model.Invoking(m => m.Forward(Tensor.FromArray<long>([0, -1], [1, 2])))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("tokens");
        model.Invoking(m => m.Forward(Tensor.FromArray<float>([0, 1], [1, 2]))).Should().Throw<ArgumentException>().WithParameterName("tokens");
        using var state = model.BeginDecoding(2);
        model.Invoking(m => m.Step(state, Tensor.FromArray<long>([0], [1, 1]))).Should().Throw<ArgumentException>().WithMessage("*2 sequences*");
    }

    [Fact]
    public void DecodingLeavesNoNativeTensorsBehind()
    {
        using var model = new NGramLanguageModel(Build(NGramSmoothing.KneserNey, order: 3));
        var before = NativeTensors.SettledCount();

        Generator.Generate(model, [0, 1], new SamplingOptions { MaxNewTokens = 20, NumSamples = 3, Seed = 1, StopSequences = [[4]] });
        BeamSearch.Search(model, [0, 1], new BeamSearchOptions { BeamWidth = 3, MaxNewTokens = 8, EndToken = 4 });
        Scorer.Score(model, Corpus(50, seed: 8));

        LibTorch.LiveTensorCount.Should().Be(before);
    }

    [Fact]
    public void LoadForInferenceReadsAnNGramFileWithItsTokenizer()
    {
        var tokenizer = CharTokenizer.FromCorpus("abcdef");
        var lm = Build(NGramSmoothing.KneserNey, order: 3);
        var path = Path.Combine(directory, "model.ngram");
        lm.Save(path);
        tokenizer.Save(TrainingRun.TokenizerSidecar(path));

        var (loaded, loadedTokenizer, config) = TrainingRun.LoadForInference(path);
        using (loaded)
        {
            config.Should().BeNull("an n-gram file holds no run configuration");
            loadedTokenizer.ToJson().Should().Be(tokenizer.ToJson());
            var adapter = loaded.Should().BeOfType<NGramLanguageModel>().Subject;
            (adapter.Model.Order, adapter.Model.Smoothing, adapter.Model.Parameter).Should().Be((3, NGramSmoothing.KneserNey, 0.7));
            adapter.Model.Distribution([2, 1]).Should().Equal(lm.Distribution([2, 1]));
        }
        Directory.GetFiles(directory).Should().BeEquivalentTo([path, TrainingRun.TokenizerSidecar(path)], "atomic saves leave no temporary files");
    }

    [Fact]
    public void BadNGramFilesAreRefusedNamingTheFile()
    {
        var path = Path.Combine(directory, "model.ngram");
        var sidecar = TrainingRun.TokenizerSidecar(path);
        Build(NGramSmoothing.AddK, order: 2).Save(path);
        var load = () => TrainingRun.LoadForInference(path);

        load.Should().Throw<InvalidDataException>().WithMessage($"{path} is an n-gram model but its tokenizer {sidecar} does not exist*");

        CharTokenizer.FromCorpus("abc").Save(sidecar);
        load.Should().Throw<InvalidDataException>().WithMessage($"{sidecar} has 3 tokens but the n-gram model {path} has {Vocabulary}");

        File.WriteAllText(sidecar, "{\"kind\": \"morse\"}");
        load.Should().Throw<InvalidDataException>().WithMessage($"{sidecar}: tokenizer JSON: field 'kind'*");

        CharTokenizer.FromCorpus("abcdef").Save(sidecar);
        var whole = File.ReadAllBytes(path);
        File.WriteAllBytes(path, whole[..^9]);
        load.Should().Throw<InvalidDataException>().WithMessage($"{path}: n-gram file is truncated or corrupt*");

        File.WriteAllBytes(path, whole[..5]);
        load.Should().Throw<InvalidDataException>().WithMessage($"{path} is not a valid safetensors file*",
            "a file too short for the n-gram magic is not taken for one");

        File.WriteAllText(path, "neither format");
        load.Should().Throw<InvalidDataException>().WithMessage($"{path} is not a valid safetensors file*");
    }
}
