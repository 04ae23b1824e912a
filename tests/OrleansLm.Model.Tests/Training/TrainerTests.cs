using System.Text.Json.Nodes;
using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Training;

[Collection(NativeStateCollection.Name)]
public sealed class TrainerTests : IDisposable
{
    private const string Text = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer ";
    private readonly string directory = Directory.CreateTempSubdirectory("olm-trainer-").FullName;
    private readonly Corpus corpus;

    public TrainerTests()
    {
        var tokenizer = CharTokenizer.FromCorpus(string.Concat(Enumerable.Repeat(Text, 20)));
        corpus = Corpus.FromText(string.Concat(Enumerable.Repeat(Text, 20)), tokenizer);
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void ResumingFromACheckpointContinuesTheExactLossTrajectory()
    {
        var uninterrupted = Run(steps: 12, checkpointAt: null, resumeFrom: null);

        var checkpoint = Path.Combine(directory, "step6.safetensors");
        var firstHalf = Run(steps: 6, checkpointAt: checkpoint, resumeFrom: null);
        var secondHalf = Run(steps: 12, checkpointAt: null, resumeFrom: checkpoint);

        firstHalf.Should().Equal(uninterrupted.Take(6));
        secondHalf.Should().Equal(uninterrupted.Skip(6), "model, optimizer, RNG (dropout) and step all resume");
    }

    [Fact]
    public void ResumingWithoutTheRngStateWouldDiverge()
    {
        // Guards the test above: with dropout on, the RNG state is what makes the trajectories identical.
        var uninterrupted = Run(steps: 8, checkpointAt: null, resumeFrom: null);
        var checkpoint = Path.Combine(directory, "step4.safetensors");
        Run(steps: 4, checkpointAt: checkpoint, resumeFrom: null);
        var resumed = Run(steps: 8, checkpointAt: null, resumeFrom: checkpoint, reseedAfterLoad: true);
        resumed.Should().NotEqual(uninterrupted.Skip(4));
    }

    [Fact]
    public void TrainingLowersTheValidationLossAndReportsEachEvaluation()
    {
        using var model = NewModel(dropout: 0);
        using var optimizer = new AdamW(model.Parameters(), new AdamWOptions { LearningRate = 3e-3 });
        var events = new List<TrainingEvent>();
        using var trainer = new Trainer(model, optimizer, new ConstantSchedule(3e-3), Batches(corpus.Train), Batches(corpus.Validation),
            new TrainerOptions { MaxSteps = 60, EvalEvery = 20, EvalBatches = 4 });
        var before = trainer.Evaluate(Batches(corpus.Validation), 4);

        var after = trainer.Run(new ListProgress(events));

        events.Where(e => e.Kind == TrainingEventKind.Evaluation).Select(e => e.Step).Should().Equal(20, 40, 60);
        after.Should().BeLessThan(before * 0.6, $"validation loss should fall from {before}");
        events.Last(e => e.Kind == TrainingEventKind.Step).TokensPerSecond.Should().BePositive();
        model.Training.Should().BeTrue("evaluation restores training mode");
    }

    [Fact]
    public void AccumulatingTwoHalvesEqualsOneFullBatch()
    {
        var whole = Run(steps: 5, checkpointAt: null, resumeFrom: null, dropout: 0, accumulation: 1);
        var halves = Run(steps: 5, checkpointAt: null, resumeFrom: null, dropout: 0, accumulation: 2);
        halves.Zip(whole).Should().OnlyContain(p => Math.Abs(p.First - p.Second) < 1e-5 * Math.Abs(p.Second));
    }

    [Fact]
    public void ANonFiniteLossStopsTheRunNamingTheStep()
    {
        using var model = new PoisonableBigram(corpus.VocabularySize) { PoisonedBatch = 3 };
        using var optimizer = new Sgd(model.Parameters(), new SgdOptions { LearningRate = 0.1 });
        using var trainer = new Trainer(model, optimizer, new ConstantSchedule(0.1), model.Batches(corpus.Train), null,
            new TrainerOptions { MaxSteps = 10 });
        var run = () => trainer.Run();
        run.Should().Throw<TrainingDivergedException>().WithMessage("step 3: the loss is NaN*on_non_finite: skip*");
        trainer.Step.Should().Be(3);
        model.Parameters().Should().OnlyContain(p => p.ToArray<float>().All(float.IsFinite), "the bad step was not applied");
    }

    [Fact]
    public void SkipPolicyDropsTheBadStepAndFinishes()
    {
        using var model = new PoisonableBigram(corpus.VocabularySize) { PoisonedBatch = 3 };
        using var optimizer = new Sgd(model.Parameters(), new SgdOptions { LearningRate = 0.1 });
        var events = new List<TrainingEvent>();
        float[]? afterStep3 = null;
        var progress = new ListProgress(events, e =>
        {
            if (e.Kind == TrainingEventKind.Step && e.Step == 3) afterStep3 = model.Table.Weight.ToArray<float>();
        });
        using var trainer = new Trainer(model, optimizer, new ConstantSchedule(0.1), model.Batches(corpus.Train), null,
            new TrainerOptions { MaxSteps = 6, ReportEvery = 1, OnNonFinite = NonFinitePolicy.Skip, GradientClip = 0 });
        trainer.Run(progress);

        events.Where(e => e.Kind == TrainingEventKind.SkippedStep).Select(e => e.Step).Should().Equal(3);
        events.Where(e => e.Kind == TrainingEventKind.Step).Select(e => e.Step).Should().Equal(1, 2, 3, 5, 6);
        trainer.Step.Should().Be(6);
        afterStep3.Should().NotBeNull();
        model.Table.Weight.ToArray<float>().Should().OnlyContain(v => float.IsFinite(v));
    }

    [Fact]
    public void AnIndependentReaderFindsTheModelStepAndOptimizerStateInACheckpoint()
    {
        using var model = NewModel(dropout: 0);
        using var optimizer = new AdamW(model.Parameters(), new AdamWOptions());
        using var trainer = new Trainer(model, optimizer, new ConstantSchedule(1e-3), Batches(corpus.Train), null, new TrainerOptions { MaxSteps = 3 });
        trainer.Run();
        var path = Path.Combine(directory, "ckpt.safetensors");
        trainer.SaveCheckpoint(path, new Dictionary<string, string> { ["olm.model"] = "{\"family\": \"transformer\"}" });

        var json = Path.Combine(directory, "read.json");
        PythonPeer.Run("safetensors_peer.py", "read", path, json);
        var read = JsonNode.Parse(File.ReadAllText(json))!;
        read["metadata"]!["olm.step"]!.GetValue<string>().Should().Be("3");
        read["metadata"]!["olm.model"]!.GetValue<string>().Should().Contain("transformer");
        var tensors = read["tensors"]!.AsObject();
        foreach (var (name, parameter) in model.NamedParameters())
        {
            var stored = tensors["model." + name]!["values"]!.AsArray().Select(v => (float)v!.GetValue<double>());
            stored.Should().Equal(parameter.ToArray<float>(), $"parameter {name}");
        }
        tensors.Select(t => t.Key).Should().Contain(k => k.StartsWith("optimizer.") && k.EndsWith(".exp_avg_sq"));
        tensors.Should().ContainKey("rng.cpu");
    }

    [Fact]
    public void ATruncatedOrForeignCheckpointIsRefused()
    {
        using var model = NewModel(dropout: 0);
        using var optimizer = new AdamW(model.Parameters(), new AdamWOptions());
        using var trainer = new Trainer(model, optimizer, new ConstantSchedule(1e-3), Batches(corpus.Train), null, new TrainerOptions { MaxSteps = 1 });
        trainer.Run();
        var path = Path.Combine(directory, "ckpt.safetensors");
        trainer.SaveCheckpoint(path);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var load = () => trainer.LoadCheckpoint(path);
        load.Should().Throw<InvalidDataException>().WithMessage("*truncated*");

        var foreign = Path.Combine(directory, "foreign.safetensors");
        using (var scope = DisposeScope.Enter())
            Safetensors.Save(foreign, new Dictionary<string, Tensor> { ["x"] = Tensor.Ones([1]) });
        load = () => trainer.LoadCheckpoint(foreign);
        load.Should().Throw<InvalidDataException>().WithMessage("*not an OrleansLm checkpoint*olm.step*");
    }

    [Fact]
    public void InvalidOptionsNameTheField()
    {
        using var model = NewModel(dropout: 0);
        using var optimizer = new AdamW(model.Parameters(), new AdamWOptions());
        var make = () => new Trainer(model, optimizer, new ConstantSchedule(1e-3), Batches(corpus.Train), null,
            new TrainerOptions { CheckpointEvery = 10 });
        make.Should().Throw<ConfigException>().WithMessage("checkpoint_path*");
        make = () => new Trainer(model, optimizer, new ConstantSchedule(1e-3), Batches(corpus.Train), null,
            new TrainerOptions { GradientAccumulation = 0 });
        make.Should().Throw<ConfigException>().WithMessage("gradient_accumulation*");
    }

    // Trains a fresh model for `steps` (optionally resuming from a checkpoint) and returns each step's loss.
    private List<double> Run(int steps, string? checkpointAt, string? resumeFrom, double dropout = 0.2, int accumulation = 1,
        bool reseedAfterLoad = false)
    {
        LibTorch.ManualSeed(resumeFrom is null ? 11UL : 12345UL);  // a resumed run starts from a different init
        using var model = NewModel(dropout);
        using var optimizer = new AdamW(model.Parameters(), new AdamWOptions { LearningRate = 1e-3 });
        using var trainer = new Trainer(model, optimizer, new WarmupCosineSchedule(3e-3, 3e-4, 3, 12),
            Batches(corpus.Train), null,
            new TrainerOptions { MaxSteps = steps, ReportEvery = 1, GradientAccumulation = accumulation, GradientClip = 0.5 });
        if (resumeFrom is not null)
        {
            trainer.LoadCheckpoint(resumeFrom);
            if (reseedAfterLoad) LibTorch.ManualSeed(99);
        }
        var losses = new List<double>();
        trainer.Run(new ListProgress(losses));
        if (checkpointAt is not null) trainer.SaveCheckpoint(checkpointAt);
        return losses;
    }

    private TransformerLm NewModel(double dropout) =>
        new(new TransformerConfig(corpus.VocabularySize, BlockSize: 16, Layers: 2, Heads: 2, ModelDimension: 32, Dropout: dropout));

    private static WindowBatches Batches(TokenSlice slice) => new(new WindowSampler(slice, blockSize: 16, seed: 5), batchSize: 8);

    // A bigram table whose logits turn to NaN on one chosen batch: a NaN loss on demand.
    private sealed class PoisonableBigram : Module, ILanguageModel
    {
        public PoisonableBigram(int vocabulary)
        {
            VocabularySize = vocabulary;
            Table = RegisterModule("table", new Embedding(vocabulary, vocabulary));
        }

        public Embedding Table { get; }

        public long PoisonedBatch { get; init; } = -1;

        public int VocabularySize { get; }

        public int? ContextLength => null;

        private bool Poisoned { get; set; }

        public Tensor Forward(Tensor tokens) => Poisoned ? Table.Forward(tokens) * double.NaN : Table.Forward(tokens);

        public Tensor Loss(Tensor tokens, Tensor targets) => NextTokenLoss.Of(this, tokens, targets);

        public IDecodingState BeginDecoding(int batchSize) => throw new NotSupportedException();

        public Tensor Step(IDecodingState state, Tensor tokens) => throw new NotSupportedException();

        public double FlopsPerToken(int contextLength) => 0;

        public IBatchSource Batches(TokenSlice slice) => new Poisoning(this, TrainerTests.Batches(slice));

        private sealed class Poisoning(PoisonableBigram model, IBatchSource inner) : IBatchSource
        {
            public (Tensor Inputs, Tensor Targets) Batch(long index, int part = 0, int parts = 1)
            {
                model.Poisoned = index == model.PoisonedBatch;
                return inner.Batch(index, part, parts);
            }
        }
    }
}
