using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>FixedWindowLm, RnnLm (Elman, LSTM, GRU, tied) and BidirectionalRnnEncoder against their contracts.</summary>
[Collection(NativeStateCollection.Name)]
public class WindowAndRecurrentLmTests
{
    private const int Vocabulary = 11;

    public static TheoryData<string> Families => new("fixed-window", "fixed-window-relu", "elman", "lstm", "gru", "lstm-tied");

    public static TheoryData<string> RecurrentCells => new("elman", "lstm", "gru");

    private static ILanguageModel Create(string family, int vocabulary = Vocabulary, int hidden = 16) => family switch
    {
        "fixed-window" or "fixed-window-relu" => new FixedWindowLm(new()
        {
            VocabularySize = vocabulary, ContextSize = 3, EmbeddingSize = 8, HiddenSize = hidden,
            Activation = family == "fixed-window" ? "tanh" : "relu",
        }),
        "lstm-tied" => new RnnLm(new() { VocabularySize = vocabulary, Cell = "lstm", EmbeddingSize = hidden, HiddenSize = hidden, NumLayers = 2, TieWeights = true }),
        _ => new RnnLm(new() { VocabularySize = vocabulary, Cell = family, EmbeddingSize = 8, HiddenSize = hidden, NumLayers = 2, Dropout = 0.3 }),
    };

    [Theory]
    [MemberData(nameof(Families))]
    public void StepwiseDecodingEqualsTheLastRowOfForward(string family)
    {
        LibTorch.ManualSeed(3);
        using var model = Create(family);
        ((Module)model).Eval();
        using var scope = DisposeScope.Enter();
        using var noGrad = LibTorch.NoGrad();
        var tokens = Tensor.Randint(0, Vocabulary, [3, 9]);
        var full = model.Forward(tokens);  // [3, 9, V]
        full.Shape.Should().Equal(3, 9, Vocabulary);

        // One token (the window still reaches before the start), a chunk of three, then one at a time.
        int[] chunks = [1, 3, 1, 1, 1, 1, 1];
        using var state = model.BeginDecoding(3);
        var fed = 0;
        foreach (var chunk in chunks)
        {
            var logits = model.Step(state, tokens.Narrow(1, fed, chunk));
            fed += chunk;
            RnnTests.MaxDifference(logits, full.Select(1, fed - 1)).Should().BeLessThan(1e-5, $"after {fed} tokens");
            state.Length.Should().Be(fed);
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void SelectReordersTheDecodingStateForBeamSearch(string family)
    {
        LibTorch.ManualSeed(4);
        using var model = Create(family);
        ((Module)model).Eval();
        using var scope = DisposeScope.Enter();
        using var noGrad = LibTorch.NoGrad();
        var tokens = Tensor.Randint(0, Vocabulary, [3, 6]);
        var rows = Tensor.FromArray(2L, 0L, 0L, 1L);
        var expected = model.Forward(tokens.IndexSelect(0, rows)).Select(1, 5);  // [4, V]

        using var state = model.BeginDecoding(3);
        model.Step(state, tokens.Narrow(1, 0, 5));
        state.Select(rows);
        var logits = model.Step(state, tokens.IndexSelect(0, rows).Narrow(1, 5, 1));
        RnnTests.MaxDifference(logits, expected).Should().BeLessThan(1e-5);
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void GradientReachesEveryParameter(string family)
    {
        LibTorch.ManualSeed(5);
        using var model = Create(family);
        using var scope = DisposeScope.Enter();
        var tokens = Tensor.Randint(0, Vocabulary, [2, 7]);
        model.Loss(tokens, Tensor.Randint(0, Vocabulary, [2, 7])).Backward();
        var module = (Module)model;
        foreach (var (name, parameter) in module.NamedParameters())
        {
            parameter.Grad.Should().NotBeNull($"'{name}' takes part in the loss");
            parameter.Grad!.Norm().ToDouble().Should().BeGreaterThan(0, $"'{name}' should receive a gradient");
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void PlainSgdOverfitsAShortRepeatedSequence(string family)
    {
        LibTorch.ManualSeed(6);
        using var model = Create(family, hidden: 32);
        using var scope = DisposeScope.Enter();
        ((Module)model).Eval();  // no dropout: the test is about fitting
        long[] period = [3, 7, 1, 9, 4, 0, 8, 2];
        var sequence = Enumerable.Range(0, 2 * 17).Select(i => period[i % period.Length]).ToArray();
        var data = Tensor.FromArray<long>(sequence, [2, 17]);
        var inputs = data.Narrow(1, 0, 16);
        var targets = data.Narrow(1, 1, 16);

        double loss = double.NaN;
        for (var step = 0; step < 200; step++)
        {
            using var stepScope = DisposeScope.Enter();
            var value = model.Loss(inputs, targets);
            loss = value.ToDouble();
            value.Backward();
            using var noGrad = LibTorch.NoGrad();
            foreach (var p in model.Parameters())
            {
                p.SubInPlace(p.Grad!, alpha: 0.5);
                p.ZeroGrad();
            }
        }
        loss.Should().BeLessThan(0.1 * Math.Log(Vocabulary), "ln V is the loss of a uniform guess");
    }

    [Theory]
    [MemberData(nameof(RecurrentCells))]
    public void HiddenStateCarriedAcrossTruncatedBpttSegmentsEqualsOneLongForward(string cell)
    {
        LibTorch.ManualSeed(7);
        using var model = (RnnLm)Create(cell);
        model.Eval();
        using var scope = DisposeScope.Enter();
        var tokens = Tensor.Randint(0, Vocabulary, [2, 12]);
        var (whole, _) = model.Forward(tokens, null);

        var (first, carried) = model.Forward(tokens.Narrow(1, 0, 5), null);
        var detached = carried.Detach();
        carried.Hidden.RequiresGrad.Should().BeTrue();
        detached.Hidden.RequiresGrad.Should().BeFalse("the next segment must not backpropagate into this one");
        var (second, _) = model.Forward(tokens.Narrow(1, 5, 7), detached);

        RnnTests.MaxDifference(Tensor.Cat([first, second], dim: 1), whole).Should().BeLessThan(1e-6);
    }

    [Fact]
    public void FusedKernelsGiveTheSameLanguageModel()
    {
        var config = new RnnLmConfig { VocabularySize = Vocabulary, Cell = "gru", EmbeddingSize = 8, HiddenSize = 16, NumLayers = 2 };
        LibTorch.ManualSeed(8);
        using var composed = new RnnLm(config);
        LibTorch.ManualSeed(8);
        using var fused = new RnnLm(config with { UseFusedKernels = true });
        fused.Rnn.UseFusedKernels.Should().BeTrue();
        using var scope = DisposeScope.Enter();
        var tokens = Tensor.Randint(0, Vocabulary, [2, 10]);
        RnnTests.MaxDifference(composed.Forward(tokens), fused.Forward(tokens)).Should().BeLessThan(1e-5);
    }

    [Theory]
    [MemberData(nameof(RecurrentCells))]
    public void TheEncoderSeesTheFutureWhileTheLanguageModelDoesNot(string cell)
    {
        LibTorch.ManualSeed(9);
        using var lm = (RnnLm)Create(cell);
        lm.Eval();
        using var encoder = new BidirectionalRnnEncoder(new() { VocabularySize = Vocabulary, Cell = cell, EmbeddingSize = 8, HiddenSize = 6, NumLayers = 2 });
        using var scope = DisposeScope.Enter();
        var tokens = Tensor.FromArray<long>([1, 2, 3, 4, 5, 6, 7, 8], [1, 8]);
        var changed = Tensor.FromArray<long>([1, 2, 3, 4, 5, 10, 7, 8], [1, 8]);  // position 5 differs

        var encoded = encoder.Encode(tokens);
        encoded.Shape.Should().Equal(1, 8, encoder.OutputSize);
        encoder.OutputSize.Should().Be(12);
        var encodedChanged = encoder.Encode(changed);
        var lmLogits = lm.Forward(tokens);
        var lmChanged = lm.Forward(changed);
        for (var t = 0; t < 5; t++)
        {
            RnnTests.MaxDifference(encoded.Select(1, t), encodedChanged.Select(1, t)).Should().BeGreaterThan(1e-6, $"the encoder's position {t} sees position 5");
            RnnTests.MaxDifference(lmLogits.Select(1, t), lmChanged.Select(1, t)).Should().Be(0, $"the LM's position {t} must not see position 5");
        }
        RnnTests.MaxDifference(lmLogits.Select(1, 5), lmChanged.Select(1, 5)).Should().BeGreaterThan(1e-6);
        typeof(ILanguageModel).IsAssignableFrom(typeof(BidirectionalRnnEncoder)).Should().BeFalse("a model that sees the future cannot decode");
    }

    [Fact]
    public void EncoderGradientReachesBothDirections()
    {
        LibTorch.ManualSeed(10);
        using var encoder = new BidirectionalRnnEncoder(new() { VocabularySize = Vocabulary, Cell = "lstm", EmbeddingSize = 8, HiddenSize = 6, NumLayers = 2 });
        using var scope = DisposeScope.Enter();
        encoder.Encode(Tensor.Randint(0, Vocabulary, [2, 5])).Square().Sum().Backward();
        encoder.NamedParameters().Select(p => p.Name).Should().Contain("rnn.weight_hh_l1_reverse");
        foreach (var (name, parameter) in encoder.NamedParameters())
            parameter.Grad!.Norm().ToDouble().Should().BeGreaterThan(0, name);
    }

    public static TheoryData<string, Func<object>, string> ConfigErrors => new()
    {
        { "NumLayers", () => new RnnLm(new() { VocabularySize = 5, NumLayers = 0 }), "RnnLmConfig.NumLayers must be at least 1*" },
        { "Cell", () => new RnnLm(new() { VocabularySize = 5, Cell = "transformer" }), "RnnLmConfig.Cell: unknown recurrent cell 'transformer'*" },
        { "TieWeights", () => new RnnLm(new() { VocabularySize = 5, EmbeddingSize = 8, HiddenSize = 16, TieWeights = true }), "RnnLmConfig.TieWeights needs*8*16*" },
        { "Dropout", () => new RnnLm(new() { VocabularySize = 5, Dropout = 1 }), "RnnLmConfig.Dropout must be in [0, 1)*" },
        { "NumLayers", () => new BidirectionalRnnEncoder(new() { VocabularySize = 5, NumLayers = 0 }), "BidirectionalRnnEncoderConfig.NumLayers*" },
        { "ContextSize", () => new FixedWindowLm(new() { VocabularySize = 5, ContextSize = 0 }), "FixedWindowLmConfig.ContextSize must be at least 1*" },
        { "Activation", () => new FixedWindowLm(new() { VocabularySize = 5, Activation = "sigmoid" }), "FixedWindowLmConfig.Activation: unknown activation 'sigmoid'*" },
    };

    [Theory]
    [MemberData(nameof(ConfigErrors))]
    public void ConfigErrorsNameTheField(string field, Func<object> create, string message)
    {
        create.Should().Throw<ArgumentException>().WithParameterName(field).WithMessage(message);
    }

    [Fact]
    public void StepRejectsAForeignStateAndAMismatchedBatch()
    {
        using var rnn = Create("gru");
        using var window = Create("fixed-window");
        using var scope = DisposeScope.Enter();
        using var rnnState = rnn.BeginDecoding(2);
        var foreign = () => window.Step(rnnState, Tensor.Zeros([2, 1], ScalarType.Int64));
        foreign.Should().Throw<ArgumentException>().WithParameterName("state").WithMessage("*WindowDecodingState*RnnDecodingState*");
        var batch = () => rnn.Step(rnnState, Tensor.Zeros([3, 1], ScalarType.Int64));
        batch.Should().Throw<ArgumentException>().WithParameterName("tokens").WithMessage("*2 sequences but 3 rows*");
        var floats = () => rnn.Forward(Tensor.Zeros([2, 3]));
        floats.Should().Throw<ArgumentException>().WithParameterName("tokens").WithMessage("*Int64*Float32 [2, 3]*");
    }

    [Fact]
    public void FlopsPerTokenIsSixTimesTheParametersInMatrixProducts()
    {
        using var lstm = new RnnLm(new() { VocabularySize = 11, Cell = "lstm", EmbeddingSize = 8, HiddenSize = 16 });
        const long lstmWeights = 4 * 16 * (8 + 16) + 2 * 4 * 16, head = 16 * 11 + 11;
        lstm.FlopsPerToken(64).Should().Be(6.0 * (lstmWeights + head));

        using var window = new FixedWindowLm(new() { VocabularySize = 11, ContextSize = 3, EmbeddingSize = 8, HiddenSize = 16 });
        window.FlopsPerToken(3).Should().Be(6.0 * (3 * 8 * 16 + 16 + head));
        window.ParameterCount.Should().Be((11 + 1) * 8 + 3 * 8 * 16 + 16 + head, "the embedding has one extra row for padding");
    }

    [Theory]
    [InlineData("fixed-window")]
    [InlineData("lstm")]
    public void DecodingReturnsEveryTensorItCreates(string family)
    {
        LibTorch.ManualSeed(12);
        using var model = Create(family);
        var baseline = NativeTensors.SettledCount();
        using (var state = model.BeginDecoding(2))
        {
            for (var step = 0; step < 20; step++)
            {
                using var scope = DisposeScope.Enter();
                using var noGrad = LibTorch.NoGrad();
                var next = model.Step(state, Tensor.FromArray<long>([step % Vocabulary, (step * 3) % Vocabulary], [2, 1]));
                if (step % 5 == 4) state.Select(Tensor.FromArray(1L, 0L));
            }
        }
        LibTorch.LiveTensorCount.Should().Be(baseline, "the state owns only its latest tensors, and the steps' scopes the rest");
    }
}
