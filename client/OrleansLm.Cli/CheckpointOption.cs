using System.CommandLine;
using OrleansLm.Model.Models;
using OrleansLm.Model.Text;
using OrleansLm.Model.Training;

namespace OrleansLm.Cli;

/// <summary>The --checkpoint option of the commands that use a trained model, and its loading.</summary>
internal static class CheckpointOption
{
    public static Option<FileInfo> Create() => new("--checkpoint")
    {
        Description = "a model written by `olm train`: a neural checkpoint (.safetensors) or an n-gram model (its .tokenizer.json beside it)",
        DefaultValueFactory = _ => new FileInfo("olm-run.safetensors"),
    };

    /// <summary>The model and tokenizer, or null after printing why they cannot be loaded.</summary>
    public static (ILanguageModel Model, ITokenizer Tokenizer)? Load(FileInfo checkpoint)
    {
        if (!checkpoint.Exists)
        {
            Cli.Fail($"--checkpoint: {checkpoint.FullName} does not exist (train one with `olm train`)");
            return null;
        }
        try
        {
            var (model, tokenizer, _) = TrainingRun.LoadForInference(checkpoint.FullName);
            return (model, tokenizer);
        }
        catch (Exception e) when (e is InvalidDataException or ConfigException or ArgumentException)
        {
            Cli.Fail($"--checkpoint: {e.Message}");
            return null;
        }
    }
}
