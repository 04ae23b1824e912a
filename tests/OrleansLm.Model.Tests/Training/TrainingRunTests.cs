using OrleansLm.Model.Decoding;
using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Training;

[Collection(NativeStateCollection.Name)]
public sealed class TrainingRunTests : IDisposable
{
    private readonly string directory = Directory.CreateTempSubdirectory("olm-run-").FullName;
    private readonly string corpus;

    public TrainingRunTests()
    {
        corpus = Path.Combine(directory, "corpus.txt");
        File.WriteAllText(corpus, string.Concat(Enumerable.Repeat("the cat sat on the mat. the dog sat on the log. ", 60)));
    }

    public void Dispose() => Directory.Delete(directory, recursive: true);

    public static TheoryData<string> Models => new()
    {
        "family: transformer\n  layers: 1\n  heads: 2\n  dim: 16",
        "family: transformer\n  layers: 1\n  heads: 2\n  dim: 16\n  positions: sinusoidal\n  norm: post_norm\n  tied: false",
        "family: fixed_window\n  context: 3\n  embedding: 8\n  hidden: 32",
        "family: rnn\n  cell: elman\n  embedding: 8\n  hidden: 16\n  layers: 1",
        "family: rnn\n  cell: lstm\n  embedding: 8\n  hidden: 16\n  layers: 2\n  dropout: 0.1",
        "family: rnn\n  cell: gru\n  embedding: 16\n  hidden: 16\n  tie_weights: true",
        "family: rnn\n  cell: lstm\n  embedding: 8\n  hidden: 16\n  layers: 1\n  tbptt: false",
    };

    [Theory]
    [MemberData(nameof(Models))]
    public void EveryNeuralFamilyTrainsCheckpointsAndSamples(string model)
    {
        var checkpoint = Path.Combine(directory, "model.safetensors");
        var config = Config(model, "name: adamw\n  lr: 1.0e-2", steps: 60, checkpoint);

        var summary = TrainingRun.Execute(config);

        summary.ValidationLoss.Should().BeLessThan(Math.Log(summary.VocabularySize) * 0.7, "60 steps learn a repetitive text");
        var (loaded, tokenizer, _) = TrainingRun.LoadForInference(checkpoint);
        using (loaded)
        {
            var text = tokenizer.Decode(Generator.Generate(loaded, tokenizer.Encode("the "),
                new SamplingOptions { MaxNewTokens = 40, Temperature = 0 })[0].Tokens);
            text.Length.Should().BeGreaterThan(10);
            Scorer.Score(loaded, tokenizer.Encode("the cat sat on the mat.")).Perplexity.Should().BeLessThan(summary.VocabularySize);
        }
    }

    [Theory]
    [InlineData("name: sgd\n  lr: 0.5\n  momentum: 0.9\n  nesterov: true\n  weight_decay: 0")]
    [InlineData("name: adam\n  lr: 1.0e-2\n  amsgrad: true")]
    [InlineData("name: adagrad\n  lr: 0.1")]
    [InlineData("name: rmsprop\n  lr: 1.0e-2\n  centered: true")]
    public void EveryOptimizerIsSelectable(string optimizer)
    {
        var summary = TrainingRun.Execute(Config("family: fixed_window\n  embedding: 8\n  hidden: 32", optimizer, steps: 60, checkpoint: null));
        summary.ValidationLoss.Should().BeLessThan(Math.Log(summary.VocabularySize) * 0.8);
    }

    [Fact]
    public void AnNGramRunCountsAndEvaluates()
    {
        var checkpoint = Path.Combine(directory, "model.ngram");
        var summary = TrainingRun.Execute(Config("family: ngram\n  order: 4", "name: adamw", steps: 1, checkpoint));
        summary.ValidationLoss.Should().BeLessThan(0.5, "a 4-gram model nearly memorises a repeated sentence pair");
        NGramLm.Load(checkpoint).Order.Should().Be(4);
        File.Exists(checkpoint + ".tokenizer.json").Should().BeTrue();
    }

    [Theory]
    [InlineData("data:\n  path: X\nmodel:\n  family: transformer\n  cell: lstm", "run.yaml: unknown field 'model.cell'")]
    [InlineData("data:\n  path: X\nmodel:\n  family: gpt9", "*model*")]
    [InlineData("data:\n  path: X\nmodel:\n  family: transformer\n  heads: 3\n  dim: 16", "model:*ModelDimension*Heads*")]
    [InlineData("data:\n  path: X\noptimizer:\n  lr: -1", "optimizer:*LearningRate*")]
    [InlineData("data:\n  path: X\nschedule:\n  warmup: 5000", "schedule.decay_steps*")]
    [InlineData("data:\n  path: X\ntraining:\n  grad_accumulation: 0", "gradient_accumulation*")]
    [InlineData("model:\n  family: transformer", "*missing required field 'data'*")]
    [InlineData("data:\n  path: X\ntraining:\n  max_seconds: -5", "training.max_seconds: must be a non-negative number*got -5")]
    [InlineData("data:\n  path: X\ntraining:\n  checkpoint_every: -1", "training.checkpoint_every: must be non-negative, got -1")]
    public void BadRunConfigsNameTheField(string yaml, string expected)
    {
        var parse = () => ConfigFile.Parse<RunConfig>(yaml.Replace("X", corpus), "run.yaml");
        parse.Should().Throw<ConfigException>().WithMessage(expected);
    }

    [Fact]
    public void StreamsTooLongForTheValidationSplitNameTheField()
    {
        var config = Config("family: rnn\n  cell: gru\n  hidden: 8", "name: sgd\n  lr: 0.1", steps: 1, checkpoint: null);
        config = config with { Data = config.Data with { BlockSize = 200 } };
        var run = () => TrainingRun.Execute(config);
        run.Should().Throw<ConfigException>().WithMessage("data.block_size: the validation split has * tokens; batch_size streams of block_size tokens need 1601");
    }

    [Fact]
    public void AMissingCorpusIsAConfigError()
    {
        var run = () => TrainingRun.Execute(ConfigFile.Parse<RunConfig>("data:\n  path: /nonexistent/corpus.txt"));
        run.Should().Throw<ConfigException>().WithMessage("data.path: cannot read /nonexistent/corpus.txt*");
    }

    [Fact]
    public void PeriodicCheckpointsNeedAFileOnlyWhereOlmTrainRunsThem()
    {
        // A cluster run checkpoints into its own directory, so the configuration alone is valid.
        var config = ConfigFile.Parse<RunConfig>("data:\n  path: /nonexistent/corpus.txt\ntraining:\n  checkpoint_every: 10");
        config.TrainingOrDefault.CheckpointEvery.Should().Be(10);

        var run = () => TrainingRun.Execute(config);
        run.Should().Throw<ConfigException>().WithMessage("training.checkpoint: is required when training.checkpoint_every > 0",
            "olm train refuses before it reads the corpus (which does not exist)");
    }

    [Fact]
    public void TheRunConfigRoundTripsThroughItsJsonForm()
    {
        var config = Config("family: rnn\n  cell: gru", "name: sgd\n  lr: 0.1", steps: 7, checkpoint: "x.safetensors");
        var again = ConfigFile.FromJson<RunConfig>(ConfigFile.ToJson(config), "json");
        again.ModelOrDefault.Should().Be(config.ModelOrDefault);
        again.OptimizerOrDefault.Should().Be(config.OptimizerOrDefault);
        again.TrainingOrDefault.Should().Be(config.TrainingOrDefault);
        again.Data.Should().Be(config.Data);
    }

    private RunConfig Config(string model, string optimizer, int steps, string? checkpoint) => ConfigFile.Parse<RunConfig>($"""
        data:
          path: {corpus}
          block_size: 16
          batch_size: 8
        model:
          {model}
        optimizer:
          {optimizer}
        schedule:
          kind: constant
        training:
          steps: {steps}
          eval_every: 0
          eval_batches: 4
          threads: 1
        {(checkpoint is null ? "" : $"  checkpoint: {checkpoint}")}
        """);
}
