using OrleansLm.Model.Models;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Training;

[Collection(NativeStateCollection.Name)]
public sealed class TruncatedBpttTests : IDisposable
{
    private const int Streams = 4;
    private const int Segment = 8;
    private const string Text = "the quick brown fox jumps over the lazy dog; pack my box with five dozen liquor jugs. ";
    private readonly string directory = Directory.CreateTempSubdirectory("olm-tbptt-").FullName;
    private readonly TokenSlice data;
    private readonly int vocabulary;

    public TruncatedBpttTests()
    {
        var text = string.Concat(Enumerable.Repeat(Text, 6));
        var tokenizer = CharTokenizer.FromCorpus(text);
        vocabulary = tokenizer.VocabularySize;
        data = Corpus.FromText(text, tokenizer).All;
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void StreamBatchPartsAreRowBlocksOfTheWholeSegment()
    {
        var streams = new TokenStreams(data, Streams, Segment);
        var batches = new StreamBatches(streams);
        using var scope = DisposeScope.Enter();

        var whole = streams.Segment(5);
        var parts = Enumerable.Range(0, 2).Select(p => batches.Batch(5, p, 2)).ToArray();

        Tensor.Cat([.. parts.Select(p => p.Inputs)]).ToArray<long>().Should().Equal(whole.Inputs.ToArray<long>());
        Tensor.Cat([.. parts.Select(p => p.Targets)]).ToArray<long>().Should().Equal(whole.Targets.ToArray<long>());
        batches.ContinuesPreviousBatch(0).Should().BeFalse();
        batches.ContinuesPreviousBatch(1).Should().BeTrue();
        batches.ContinuesPreviousBatch(streams.SegmentsPerPass).Should().BeFalse("the streams wrap to their starts");
    }

    [Theory]
    [InlineData("lstm")]
    [InlineData("gru")]
    public void EvaluatingSegmentsWithTheCarriedStateEqualsOneForwardOverTheWholeStreams(string cell)
    {
        LibTorch.ManualSeed(21);
        using var model = NewModel(cell);
        using var optimizer = new Sgd(model.Parameters(), new SgdOptions { LearningRate = 0.1 });
        var streams = new TokenStreams(data, Streams, Segment);
        using var trainer = new Trainer(model, optimizer, new ConstantSchedule(0.1), new StreamBatches(streams), null, new TrainerOptions());
        var segments = streams.SegmentsPerPass;

        var carried = trainer.Evaluate(new StreamBatches(streams), segments);

        // The reference: each stream read in one pass, no segment boundaries at all.
        using var scope = DisposeScope.Enter();
        using var noGrad = LibTorch.NoGrad();
        var length = segments * Segment;
        var inputs = new long[Streams * length];
        var targets = new long[Streams * length];
        for (var b = 0; b < Streams; b++)
        for (var t = 0; t < length; t++)
        {
            inputs[b * length + t] = data.Tokens[b * streams.StreamLength + t];
            targets[b * length + t] = data.Tokens[b * streams.StreamLength + t + 1];
        }
        var whole = model.Loss(Tensor.FromArray<long>(inputs, [Streams, length]), Tensor.FromArray<long>(targets, [Streams, length])).ToDouble();
        carried.Should().BeApproximately(whole, 1e-5);

        // And the state matters: from zeros at every segment the loss differs (by 3e-4 to 4e-3 over random inits,
        // against 2e-7 for the carried state).
        var fresh = trainer.Evaluate(new Restarting(new StreamBatches(streams)), segments);
        Math.Abs(fresh - whole).Should().BeGreaterThan(2e-5);
    }

    [Fact]
    public void ResumingContinuesTheExactTrajectoryIncludingTheCarriedState()
    {
        var uninterrupted = Run(steps: 10, checkpointAt: null, resumeFrom: null);
        var checkpoint = Path.Combine(directory, "step5.safetensors");
        var firstHalf = Run(steps: 5, checkpointAt: checkpoint, resumeFrom: null);
        var secondHalf = Run(steps: 10, checkpointAt: null, resumeFrom: checkpoint);

        firstHalf.Should().Equal(uninterrupted.Take(5));
        secondHalf.Should().Equal(uninterrupted.Skip(5));

        // Without the carried state the resumed run starts step 5 from zeros and its loss differs.
        var stripped = Path.Combine(directory, "stripped.safetensors");
        using (var content = Safetensors.Load(checkpoint))
        {
            content.Tensors.Keys.Should().Contain(["tbptt.0.hidden", "tbptt.0.cell", "tbptt.1.hidden", "tbptt.1.cell"]);
            Safetensors.Save(stripped, content.Tensors.Where(t => !t.Key.StartsWith("tbptt.", StringComparison.Ordinal)).ToDictionary(), content.Metadata);
        }
        Run(steps: 10, checkpointAt: null, resumeFrom: stripped)[0].Should().NotBe(uninterrupted[5]);
    }

    [Fact]
    public void ATimeBudgetEndsTheRunWithAnEvaluation()
    {
        using var model = NewModel("gru");
        using var optimizer = new Sgd(model.Parameters(), new SgdOptions { LearningRate = 0.1 });
        var batches = new StreamBatches(new TokenStreams(data, Streams, Segment));
        using var trainer = new Trainer(model, optimizer, new ConstantSchedule(0.1), batches, batches,
            new TrainerOptions { MaxSteps = 1_000_000, MaxDuration = TimeSpan.FromMilliseconds(1), EvalEvery = 0, EvalBatches = 2 });
        var events = new List<TrainingEvent>();

        var loss = trainer.Run(new ListProgress(events));

        trainer.Step.Should().BeLessThan(1_000_000);
        events.Should().ContainSingle(e => e.Kind == TrainingEventKind.Evaluation).Which.ValidationLoss.Should().Be(loss);
        double.IsFinite(loss).Should().BeTrue();
    }

    // Trains a fresh LSTM on the streams with two accumulated parts, each carrying its own state.
    private List<double> Run(int steps, string? checkpointAt, string? resumeFrom)
    {
        LibTorch.ManualSeed(resumeFrom is null ? 3UL : 777UL);
        using var model = NewModel("lstm");
        using var optimizer = new Adam(model.Parameters(), new AdamOptions { LearningRate = 1e-2 });
        using var trainer = new Trainer(model, optimizer, new ConstantSchedule(1e-2), new StreamBatches(new TokenStreams(data, Streams, Segment)), null,
            new TrainerOptions { MaxSteps = steps, ReportEvery = 1, GradientAccumulation = 2 });
        if (resumeFrom is not null) trainer.LoadCheckpoint(resumeFrom);
        var losses = new List<double>();
        trainer.Run(new ListProgress(losses));
        if (checkpointAt is not null) trainer.SaveCheckpoint(checkpointAt);
        return losses;
    }

    private RnnLm NewModel(string cell) => new(new RnnLmConfig
    {
        VocabularySize = vocabulary, Cell = cell, EmbeddingSize = 8, HiddenSize = 16, NumLayers = 2,
    });

    private sealed class Restarting(IBatchSource inner) : IBatchSource
    {
        public (Tensor Inputs, Tensor Targets) Batch(long index, int part = 0, int parts = 1) => inner.Batch(index, part, parts);
    }
}
