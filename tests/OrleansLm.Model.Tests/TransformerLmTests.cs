using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

internal static class TransformerTesting
{
    /// <summary>A model initialised from <paramref name="seed"/>, its parameters and buffers cast to <paramref name="dtype"/>.</summary>
    public static TransformerLm Build(TransformerConfig config, ulong seed = 1, ScalarType dtype = ScalarType.Float64)
    {
        LibTorch.ManualSeed(seed);
        var model = new TransformerLm(config);
        using var noGrad = LibTorch.NoGrad();
        foreach (var (_, tensor) in model.NamedParameters().Concat(model.NamedBuffers()))
        {
            using var cast = tensor.To(dtype);
            tensor.SetData(cast);
        }
        return model;
    }

    public static double[] Values(Tensor tensor) => tensor.DType switch
    {
        ScalarType.Float32 => Array.ConvertAll(tensor.ToArray<float>(), v => (double)v),
        _ => tensor.To(ScalarType.Float64).ToArray<double>(),
    };

    public static double MaxAbsDifference(Tensor a, Tensor b) => (a - b).Abs().Max().ToDouble();
}

[Collection(NativeStateCollection.Name)]
public class TransformerLmTests
{
    private const double Float64Tolerance = 1e-10;

    private static readonly TransformerConfig Small = new(VocabularySize: 17, BlockSize: 12, Layers: 2, Heads: 2, ModelDimension: 8);

    public static TheoryData<NormPlacement, PositionEncoding> Variants => new()
    {
        { NormPlacement.PreNorm, PositionEncoding.Learned },
        { NormPlacement.PreNorm, PositionEncoding.Sinusoidal },
        { NormPlacement.PostNorm, PositionEncoding.Learned },
        { NormPlacement.PostNorm, PositionEncoding.Sinusoidal },
    };

    [Fact]
    public void AttentionOverACacheMatchesFullAttentionForChunksOfAnySize()
    {
        LibTorch.ManualSeed(3);
        using var attention = new CausalSelfAttention(modelDimension: 12, heads: 3);
        using var noGrad = LibTorch.NoGrad();
        foreach (var p in attention.Parameters()) p.SetData(p.To(ScalarType.Float64));
        using var cache = new KeyValueCache();
        using var scope = DisposeScope.Enter();
        var x = Tensor.Randn([2, 11, 12], ScalarType.Float64);
        var full = attention.Forward(x);  // [B, T, d]

        var start = 0;
        foreach (var length in new[] { 3, 1, 4, 1, 2 })
        {
            var chunk = attention.Forward(x.Narrow(1, start, length), cache);
            TransformerTesting.MaxAbsDifference(chunk, full.Narrow(1, start, length)).Should().BeLessThan(
                Float64Tolerance, $"every row of the chunk at {start}..{start + length} sees the cache and its own past only");
            start += length;
        }
        cache.Length.Should().Be(11);
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void DecodingWithTheKvCacheEqualsFullRecompute(NormPlacement norm, PositionEncoding positions)
    {
        using var model = TransformerTesting.Build(Small with { Norm = norm, Positions = positions });
        model.Eval();
        using var scope = DisposeScope.Enter();
        var tokens = Tensor.Randint(0, Small.VocabularySize, [3, Small.BlockSize]);
        var full = model.Forward(tokens);  // [B, T, V]

        using (var state = model.BeginDecoding(3))
            for (var t = 0; t < Small.BlockSize; t++)
            {
                var next = model.Step(state, tokens.Narrow(1, t, 1));
                TransformerTesting.MaxAbsDifference(next, full.Select(1, t)).Should().BeLessThan(Float64Tolerance, $"token by token, position {t}");
                state.Length.Should().Be(t + 1);
            }

        // A prompt, then a multi-token chunk into the non-empty cache, then single tokens.
        using (var state = model.BeginDecoding(3))
        {
            var fed = 0;
            foreach (var length in new[] { 5, 3, 1, 1, 2 })
            {
                var next = model.Step(state, tokens.Narrow(1, fed, length));
                fed += length;
                TransformerTesting.MaxAbsDifference(next, full.Select(1, fed - 1)).Should().BeLessThan(Float64Tolerance, $"after {fed} tokens");
            }
        }
    }

    [Fact]
    public void DecodingAgreesWithFullRecomputeInFloat32()
    {
        using var model = TransformerTesting.Build(Small, dtype: ScalarType.Float32);
        model.Eval();
        using var scope = DisposeScope.Enter();
        var tokens = Tensor.Randint(0, Small.VocabularySize, [2, 9]);
        var full = model.Forward(tokens);
        using var state = model.BeginDecoding(2);
        model.Step(state, tokens.Narrow(1, 0, 4));
        for (var t = 4; t < 9; t++)
            TransformerTesting.MaxAbsDifference(model.Step(state, tokens.Narrow(1, t, 1)), full.Select(1, t)).Should().BeLessThan(1e-5);
    }

    [Fact]
    public void SelectReordersTheCachedSequencesForBeamSearch()
    {
        using var model = TransformerTesting.Build(Small);
        model.Eval();
        using var scope = DisposeScope.Enter();
        var prompts = Tensor.Randint(0, Small.VocabularySize, [3, 4]);
        var continuation = Tensor.Randint(0, Small.VocabularySize, [4, 2]);
        var rows = Tensor.FromArray<long>(2, 0, 2, 1);

        using var state = model.BeginDecoding(3);
        model.Step(state, prompts);
        state.Select(rows);
        var next = model.Step(state, continuation);  // [4, V]

        var reordered = Tensor.Cat([prompts.IndexSelect(0, rows), continuation], dim: 1);
        var full = model.Forward(reordered);
        TransformerTesting.MaxAbsDifference(next, full.Select(1, 5)).Should().BeLessThan(Float64Tolerance);
        state.Length.Should().Be(6);

        var outOfRange = () => state.Select(Tensor.FromArray<long>(0, 4));
        outOfRange.Should().Throw<ArgumentException>().WithParameterName("rows").WithMessage("*[0, 4)*");
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void ChangingAFutureTokenLeavesEarlierLogitsUnchanged(NormPlacement norm, PositionEncoding positions)
    {
        using var model = TransformerTesting.Build(Small with { Norm = norm, Positions = positions });
        model.Eval();
        using var scope = DisposeScope.Enter();
        var original = new long[] { 1, 5, 2, 9, 16, 3, 3, 0, 7, 4 };
        var changed = (long[])original.Clone();
        changed[6] = 11;
        var a = model.Forward(Tensor.FromArray<long>(original, [1, 10]));
        var b = model.Forward(Tensor.FromArray<long>(changed, [1, 10]));

        TransformerTesting.MaxAbsDifference(a.Narrow(1, 0, 6), b.Narrow(1, 0, 6)).Should().Be(0, "positions before 6 cannot see token 6");
        for (var t = 6; t < 10; t++)
            TransformerTesting.MaxAbsDifference(a.Select(1, t), b.Select(1, t)).Should().BeGreaterThan(1e-12, $"position {t} sees token 6");
    }

    public static TheoryData<TransformerConfig> CountedConfigs => new()
    {
        Small,
        Small with { Bias = false, TiedEmbeddings = false },
        Small with { Positions = PositionEncoding.Sinusoidal, Norm = NormPlacement.PostNorm },
        new TransformerConfig(65, 64, Layers: 4, Heads: 4, ModelDimension: 128, Bias: false, Norm: NormPlacement.PostNorm, TiedEmbeddings: false),
    };

    [Theory]
    [MemberData(nameof(CountedConfigs))]
    public void ParameterCountMatchesTheClosedForm(TransformerConfig config)
    {
        long v = config.VocabularySize, n = config.BlockSize, d = config.ModelDimension, layers = config.Layers;
        var bias = config.Bias ? 1 : 0;
        var layerNorm = d + bias * d;
        var attention = d * 3 * d + bias * 3 * d + d * d + bias * d;
        var mlp = d * 4 * d + bias * 4 * d + 4 * d * d + bias * d;
        var expected = v * d                                                         // token embedding
            + (config.Positions == PositionEncoding.Learned ? n * d : 0)
            + layers * (2 * layerNorm + attention + mlp)
            + (config.Norm == NormPlacement.PreNorm ? layerNorm : 0)              // final LayerNorm
            + (config.TiedEmbeddings ? 0 : v * d);                                  // separate output head

        using var model = new TransformerLm(config);
        model.ParameterCount.Should().Be(expected);
        model.Parameters().Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void FlopsPerTokenIsSixNPlusAttention()
    {
        // nanoGPT's CPU config: N = get_num_params() = all parameters but the position table.
        var config = new TransformerConfig(65, 64, Layers: 4, Heads: 4, ModelDimension: 128);
        using var model = new TransformerLm(config);
        var n = model.ParameterCount - 64 * 128;
        model.FlopsPerToken(64).Should().Be(6.0 * n + 12.0 * 4 * 4 * 32 * 64);

        // Untied and sinusoidal: the head's V·d is a matmul and counts, the token table is a lookup and does not.
        using var untied = new TransformerLm(config with { TiedEmbeddings = false, Positions = PositionEncoding.Sinusoidal });
        untied.FlopsPerToken(10).Should().Be(6.0 * n + 12.0 * 4 * 4 * 32 * 10);
    }

    [Fact]
    public void InitialisationFollowsNanoGpt()
    {
        var config = new TransformerConfig(50, 16, Layers: 8, Heads: 4, ModelDimension: 64);
        using var model = TransformerTesting.Build(config, dtype: ScalarType.Float32);
        var parameters = model.NamedParameters().ToDictionary(p => p.Name, p => TransformerTesting.Values(p.Parameter));
        static double Std(double[] x) => Math.Sqrt(x.Select(v => v * v).Average());

        Std(parameters["token_embedding.weight"]).Should().BeApproximately(0.02, 0.002);
        Std(parameters["blocks.0.attention.qkv.weight"]).Should().BeApproximately(0.02, 0.001);
        Std(parameters["blocks.3.mlp.expand.weight"]).Should().BeApproximately(0.02, 0.001);
        var residual = 0.02 / Math.Sqrt(2 * 8);
        Std(parameters["blocks.5.attention.projection.weight"]).Should().BeApproximately(residual, residual / 10);
        Std(parameters["blocks.7.mlp.contract.weight"]).Should().BeApproximately(residual, residual / 10);
        parameters.Where(p => p.Key.EndsWith(".bias", StringComparison.Ordinal)).SelectMany(p => p.Value).Should().OnlyContain(v => v == 0);
        parameters["blocks.2.attention_norm.weight"].Should().OnlyContain(v => v == 1);
    }

    [Fact]
    public void EvalModeTurnsDropoutOff()
    {
        using var model = TransformerTesting.Build(Small with { Dropout = 0.3 });
        using var scope = DisposeScope.Enter();
        var tokens = Tensor.Randint(0, Small.VocabularySize, [2, 8]);
        model.Eval();
        TransformerTesting.MaxAbsDifference(model.Forward(tokens), model.Forward(tokens)).Should().Be(0);
        model.Train();
        TransformerTesting.MaxAbsDifference(model.Forward(tokens), model.Forward(tokens)).Should().BeGreaterThan(1e-4);
    }

    [Fact]
    public void OverfitsARepeatedSequence()
    {
        // A cycle of 8 tokens: each token determines the next, so the loss can approach 0 from ln V.
        var config = new TransformerConfig(VocabularySize: 8, BlockSize: 16, Layers: 1, Heads: 2, ModelDimension: 16);
        using var model = TransformerTesting.Build(config, seed: 7, dtype: ScalarType.Float32);
        var sequence = Enumerable.Range(0, 17).Select(i => (long)((3 * i + 1) % 8)).ToArray();
        using var tokens = Tensor.FromArray<long>(sequence.AsSpan(0, 16), [1, 16]);
        using var targets = Tensor.FromArray<long>(sequence.AsSpan(1, 16), [1, 16]);

        var parameters = model.Parameters().ToList();
        var moments = parameters.Select(p => (M: Tensor.Zeros(p.Shape).DetachFromDisposeScope(), V: Tensor.Zeros(p.Shape).DetachFromDisposeScope())).ToList();
        double initial = 0, final = 0;
        const double lr = 1e-2, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        for (var step = 1; step <= 150; step++)
        {
            using var scope = DisposeScope.Enter();
            model.ZeroGrad();
            var loss = model.Loss(tokens, targets);
            loss.Backward();
            final = loss.ToDouble();
            if (step == 1) initial = final;
            using var noGrad = LibTorch.NoGrad();
            for (var i = 0; i < parameters.Count; i++)
            {
                // Adam (Kingma & Ba, algorithm 1).
                var (m, v) = moments[i];
                var g = parameters[i].Grad!;
                m.MulInPlace(beta1).AddInPlace(g, 1 - beta1);
                v.MulInPlace(beta2).AddcmulInPlace(g, g, 1 - beta2);
                var mHat = m / (1 - Math.Pow(beta1, step));
                var vHat = v / (1 - Math.Pow(beta2, step));
                parameters[i].AddcdivInPlace(mHat, vHat.Sqrt() + eps, -lr);
            }
        }
        foreach (var (m, v) in moments)
        {
            m.Dispose();
            v.Dispose();
        }

        initial.Should().BeApproximately(Math.Log(8), 0.2, "small initial weights predict nearly uniformly");
        final.Should().BeLessThan(0.05);
    }

    public static TheoryData<TransformerConfig, string> InvalidConfigs => new()
    {
        { Small with { ModelDimension = 10, Heads = 3 }, "ModelDimension (10) must be divisible by Heads (3)" },
        { Small with { VocabularySize = 0 }, "VocabularySize must be at least 1*" },
        { Small with { BlockSize = -1 }, "BlockSize must be at least 1*" },
        { Small with { Layers = 0 }, "Layers must be at least 1*" },
        { Small with { Heads = 0 }, "Heads must be at least 1*" },
        { Small with { Dropout = 1 }, "Dropout must be in*, not 1" },
        { Small with { Positions = (PositionEncoding)7 }, "Positions 7 *" },
    };

    [Theory]
    [MemberData(nameof(InvalidConfigs))]
    public void AnInvalidConfigIsRefusedNamingTheField(TransformerConfig config, string message)
    {
        var build = () => new TransformerLm(config);
        build.Should().Throw<ArgumentException>().WithParameterName("config").WithMessage($"*{message}*");
    }

    [Fact]
    public void InputsThatDoNotFitAreRefused()
    {
        using var model = TransformerTesting.Build(Small);
        using var other = TransformerTesting.Build(Small);
        using var scope = DisposeScope.Enter();

        var tooLong = () => model.Forward(Tensor.Zeros([1, 13], ScalarType.Int64));
        tooLong.Should().Throw<ArgumentException>().WithParameterName("tokens").WithMessage("*13 positions*block size 12*");
        var floats = () => model.Forward(Tensor.Zeros([1, 3]));
        floats.Should().Throw<ArgumentException>().WithParameterName("tokens").WithMessage("*Int64 [B, T]*Float32 [1, 3]*");
        var targets = () => model.Loss(Tensor.Zeros([2, 3], ScalarType.Int64), Tensor.Zeros([2, 4], ScalarType.Int64));
        targets.Should().Throw<ArgumentException>().WithParameterName("targets");

        using var state = model.BeginDecoding(2);
        var moreThanABlock = () => model.Step(state, Tensor.Zeros([2, 13], ScalarType.Int64));
        moreThanABlock.Should().Throw<ArgumentException>().WithParameterName("tokens").WithMessage("*13 positions*block size 12*");
        var wrongBatch = () => model.Step(state, Tensor.Zeros([3, 1], ScalarType.Int64));
        wrongBatch.Should().Throw<ArgumentException>().WithParameterName("tokens").WithMessage("*3 sequences*2*");
        var foreign = () => other.Step(state, Tensor.Zeros([2, 1], ScalarType.Int64));
        foreign.Should().Throw<ArgumentException>().WithParameterName("state");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    public void DecodingPastTheBlockSlidesTheWindowLikeCroppingTheContext(int chunk)
    {
        using var model = TransformerTesting.Build(Small);
        using var scope = DisposeScope.Enter();
        var sequence = Tensor.Randint(0, Small.VocabularySize, [2, 30]);
        using var state = model.BeginDecoding(2);
        model.Step(state, sequence.Narrow(1, 0, 5));
        for (var end = 5 + chunk; end <= 30; end += chunk)
        {
            var stepped = model.Step(state, sequence.Narrow(1, end - chunk, chunk)).ToArray<double>();
            var start = Math.Max(0, end - Small.BlockSize);
            // nanoGPT's generate: the logits of the last position of the last block_size tokens.
            var cropped = model.Forward(sequence.Narrow(1, start, end - start)).Select(1, end - start - 1).ToArray<double>();
            stepped.Zip(cropped).Should().OnlyContain(p => Math.Abs(p.First - p.Second) < 1e-10, $"at length {end}");
        }
    }

    [Fact]
    public void ScoringATextLongerThanTheBlockScoresEveryTokenOnceWithinTheWindow()
    {
        using var model = TransformerTesting.Build(Small);
        using var scope = DisposeScope.Enter();
        var tokens = Tensor.Randint(0, Small.VocabularySize, [40]).ToArray<long>().Select(t => (int)t).ToArray();

        var score = OrleansLm.Model.Decoding.Scorer.Score(model, tokens);

        score.Surprisal.Should().HaveCount(39);
        // Token i is scored by the window [start, start + 13) that first covers it with ≥ 6 tokens of context.
        var stride = Small.BlockSize / 2;
        for (var i = 1; i < tokens.Length; i++)
        {
            var start = Math.Max(0, (i - Small.BlockSize - 1 + stride) / stride * stride);
            var window = Tensor.FromArray<long>([.. tokens[start..i].Select(t => (long)t)], [1, i - start]);
            var logProbs = model.Forward(window).Select(1, i - start - 1).LogSoftmax(-1).ToArray<double>();
            score.Surprisal[i - 1].Should().BeApproximately(-logProbs[tokens[i]], 1e-9, $"token {i} (window from {start})");
        }
    }

    [Fact]
    public void DecodingStateFreesItsCache()
    {
        using var model = TransformerTesting.Build(Small);
        var before = NativeTensors.SettledCount();
        using (var state = model.BeginDecoding(2))
            for (var t = 0; t < 6; t++)
            {
                using var scope = DisposeScope.Enter();
                model.Step(state, Tensor.Zeros([2, 2], ScalarType.Int64));
                if (t == 2) state.Select(Tensor.FromArray<long>(1, 1));
                LibTorch.LiveTensorCount.Should().BeGreaterThan(before);
            }
        LibTorch.LiveTensorCount.Should().Be(before);
    }
}
