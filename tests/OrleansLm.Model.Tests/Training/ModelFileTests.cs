using OrleansLm.Model.Models;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Training;

[Collection(NativeStateCollection.Name)]
public sealed class ModelFileTests : IDisposable
{
    private const string Text = "the cat sat on the mat. the dog sat on the log. ";
    private readonly string directory = Directory.CreateTempSubdirectory("olm-model-file-").FullName;
    private readonly ITokenizer tokenizer = CharTokenizer.FromCorpus(Text);

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void AWrittenModelLoadsForInferenceWithItsValuesConfigurationAndTokenizer()
    {
        var config = Config(dimension: 16);
        using var model = TrainingRun.BuildModel(config, tokenizer.VocabularySize);
        var path = Path.Combine(directory, "model.safetensors");

        ModelFile.Write(path, model, config, tokenizer);

        var (loaded, loadedTokenizer, loadedConfig) = TrainingRun.LoadForInference(path);
        using (loaded)
        {
            loaded.Should().BeOfType<TransformerLm>();
            loaded.Parameters().SelectMany(p => p.ToArray<float>()).Should().Equal(model.Parameters().SelectMany(p => p.ToArray<float>()));
            ConfigFile.ToJson(loadedConfig).Should().Be(ConfigFile.ToJson(config));
            loadedTokenizer.ToJson().Should().Be(tokenizer.ToJson());
        }
    }

    [Fact]
    public void ATrainersCheckpointHoldsTheSameModelTensorsAndMetadataAsTheModelFileBesideItsTrainingState()
    {
        var config = Config(dimension: 16);
        using var model = TrainingRun.BuildModel(config, tokenizer.VocabularySize);
        using var optimizer = new AdamW(model.Parameters(), new AdamWOptions { LearningRate = 1e-3 });
        var corpus = Corpus.FromText(string.Concat(Enumerable.Repeat(Text, 10)), tokenizer);
        using var trainer = new Trainer(model, optimizer, new ConstantSchedule(1e-3),
            new WindowBatches(new WindowSampler(corpus.Train, blockSize: 8, seed: 1), batchSize: 4), null, new TrainerOptions { MaxSteps = 2 });
        trainer.Run();
        var checkpoint = Path.Combine(directory, "checkpoint.safetensors");
        var modelFile = Path.Combine(directory, "model.safetensors");

        trainer.SaveCheckpoint(checkpoint, ModelFile.Metadata(config, tokenizer));
        ModelFile.Write(modelFile, model, config, tokenizer);

        using var full = Safetensors.Load(checkpoint);
        using var bare = Safetensors.Load(modelFile);
        bare.Tensors.Keys.Should().OnlyContain(k => k.StartsWith("model.", StringComparison.Ordinal));
        full.Tensors.Keys.Where(k => k.StartsWith("model.", StringComparison.Ordinal)).Should().BeEquivalentTo(bare.Tensors.Keys);
        full.Tensors.Keys.Should().Contain(k => k.StartsWith("optimizer.", StringComparison.Ordinal), "the checkpoint also holds the training state");
        foreach (var (name, tensor) in bare.Tensors)
            full.Tensors[name].ToArray<float>().Should().Equal(tensor.ToArray<float>(), name);
        bare.Metadata.Should().BeEquivalentTo(new Dictionary<string, string>
        {
            [TrainingRun.RunConfigKey] = ConfigFile.ToJson(config), [TrainingRun.TokenizerKey] = tokenizer.ToJson(),
        });
        full.Metadata[TrainingRun.RunConfigKey].Should().Be(bare.Metadata[TrainingRun.RunConfigKey]);
        full.Metadata[TrainingRun.TokenizerKey].Should().Be(bare.Metadata[TrainingRun.TokenizerKey]);
    }

    [Fact]
    public void AFileWithoutTheRunConfigurationIsRefusedNamingTheKey()
    {
        var path = Path.Combine(directory, "bare.safetensors");
        using (var tensor = Tensor.Zeros([2]))
            Safetensors.Save(path, new Dictionary<string, Tensor> { ["model.weight"] = tensor });

        var load = () => TrainingRun.LoadForInference(path);

        load.Should().Throw<InvalidDataException>().WithMessage($"*has no '{TrainingRun.RunConfigKey}' metadata*");
    }

    [Fact]
    public void TensorsThatDoNotFitTheConfiguredModelAreRefusedAndTheModelBuiltForThemIsDisposed()
    {
        using var wide = TrainingRun.BuildModel(Config(dimension: 32), tokenizer.VocabularySize);
        var path = Path.Combine(directory, "mismatched.safetensors");
        ModelFile.Write(path, wide, Config(dimension: 16), tokenizer);
        var baseline = NativeTensors.SettledCount();

        var load = () => TrainingRun.LoadForInference(path);

        load.Should().Throw<InvalidDataException>().WithMessage($"{path}: its tensors do not fit the model its configuration describes*shape*");
        LibTorch.LiveTensorCount.Should().Be(baseline, "the model built to load them and the file's tensors are disposed");
    }

    private static RunConfig Config(int dimension) => new(
        new DataSection("unused.txt", BlockSize: 8, BatchSize: 4),
        new TransformerSection(Layers: 1, Heads: 2, Dim: dimension),
        new OptimizerSection(),
        new ScheduleSection(),
        new TrainingSection(Seed: 3));
}
