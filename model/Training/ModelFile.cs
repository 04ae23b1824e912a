using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>
/// The neural model file that <c>olm sample</c>, <c>olm score</c> and the samplers load: a safetensors file holding the
/// model's state dict with its names prefixed "model.", its <see cref="RunConfig"/> as JSON under
/// <see cref="TrainingRun.RunConfigKey"/> and its tokenizer as JSON under <see cref="TrainingRun.TokenizerKey"/>, so
/// the file alone rebuilds the model. The single-process trainer's checkpoints are such files with the training state
/// (optimizer, RNG, step) beside the model; a cluster run's export is one without it.
/// </summary>
public static class ModelFile
{
    internal const string ModelPrefix = "model.";

    /// <summary>The metadata that makes a model file stand alone: the run's configuration and its tokenizer.</summary>
    public static Dictionary<string, string> Metadata(RunConfig config, ITokenizer tokenizer) => new()
    {
        [TrainingRun.RunConfigKey] = ConfigFile.ToJson(config),
        [TrainingRun.TokenizerKey] = tokenizer.ToJson(),
    };

    /// <summary>Writes <paramref name="model"/> (built from <paramref name="config"/>) with its tokenizer to <paramref name="path"/>, atomically.</summary>
    public static void Write(string path, ILanguageModel model, RunConfig config, ITokenizer tokenizer)
    {
        var module = model as Module ?? throw new ArgumentException($"{model.GetType().Name} is not a Module, so it has no state dict to write", nameof(model));
        Save(path, module, new Dictionary<string, Tensor>(), Metadata(config, tokenizer));
    }

    /// <summary>
    /// Reads a model file: the model (in eval mode), its tokenizer and the configuration it was built from.
    /// Tensors other than the model's (a checkpoint's training state) are ignored.
    /// </summary>
    /// <exception cref="InvalidDataException">The file is corrupt, lacks the metadata, or its tensors do not fit the model its configuration builds.</exception>
    public static (ILanguageModel Model, ITokenizer Tokenizer, RunConfig Config) Read(string path)
    {
        using var content = Safetensors.Load(path);
        string Metadata(string key) => content.Metadata.TryGetValue(key, out var value)
            ? value
            : throw new InvalidDataException($"{path} has no '{key}' metadata: it was not written by `olm train` or a cluster export");
        RunConfig config;
        try
        {
            config = ConfigFile.FromJson<RunConfig>(Metadata(TrainingRun.RunConfigKey), $"{path} ({TrainingRun.RunConfigKey})");
        }
        catch (ConfigException e)
        {
            throw new InvalidDataException(e.Message, e);
        }
        var tokenizer = ITokenizer.FromJson(Metadata(TrainingRun.TokenizerKey));
        if (config.ModelOrDefault is not NeuralModelSection neural)
            throw new InvalidDataException($"{path} holds a {config.ModelOrDefault.GetType().Name}, not a neural model");
        ILanguageModel model;
        lock (TrainingRun.ModelBuilding)
            model = neural.Build(tokenizer.VocabularySize, config.Data.BlockSize);
        try
        {
            var module = (Module)model;
            module.LoadStateDict(ModelTensors(content.Tensors));
            module.Eval();
            return (model, tokenizer, config);
        }
        catch (ArgumentException e)
        {
            model.Dispose();
            throw new InvalidDataException($"{path}: its tensors do not fit the model its configuration describes: {e.Message}", e);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Writes <paramref name="module"/>'s state dict and <paramref name="others"/> (names outside the model's prefix) with
    /// <paramref name="metadata"/> to <paramref name="path"/>, atomically.
    /// </summary>
    internal static void Save(string path, Module module, IReadOnlyDictionary<string, Tensor> others, IReadOnlyDictionary<string, string> metadata)
    {
        var tensors = new Dictionary<string, Tensor>(others);
        foreach (var (name, tensor) in module.StateDict()) tensors.Add(ModelPrefix + name, tensor);
        Safetensors.Save(path, tensors, metadata);
    }

    /// <summary>The model's tensors of a model file, by their state-dict names.</summary>
    internal static Dictionary<string, Tensor> ModelTensors(IReadOnlyDictionary<string, Tensor> tensors) =>
        OptimizerStateEntries.WithPrefix(tensors, ModelPrefix);
}
