using System.CommandLine;
using OrleansLm.Model.Models;
using OrleansLm.Model.Text;
using OrleansLm.Model.Training;

namespace OrleansLm.Cli;

/// <summary>
/// The model of the commands that use a trained one: a local --checkpoint (and its loading), or a --model the
/// gateway serves; exactly one of them.
/// </summary>
internal static class CheckpointOption
{
    public static Option<FileInfo?> Create() => new("--checkpoint")
    {
        Description = "a model written by `olm train`: a neural checkpoint (.safetensors) or an n-gram model (its .tokenizer.json beside it)",
    };

    public static Option<string?> CreateModel() => new("--model")
    {
        Description = "a model on the gateway instead, as `olm models` lists it: run:<run id> or an exported model's name",
    };

    /// <summary>Why the two options do not name exactly one model; null when they do.</summary>
    public static string? Conflict(FileInfo? checkpoint, string? model) => (checkpoint, model) switch
    {
        (null, null) => "give --checkpoint FILE (a model `olm train` wrote) or --model NAME (a model on the gateway, see `olm models`)",
        (not null, not null) => "give either --checkpoint or --model, not both",
        _ => null,
    };

    /// <summary>The model and tokenizer, or null after printing why they cannot be loaded.</summary>
    public static (ILanguageModel Model, ITokenizer Tokenizer)? Load(FileInfo checkpoint, bool json)
    {
        if (!checkpoint.Exists)
        {
            Cli.Fail($"--checkpoint: {checkpoint.FullName} does not exist (train one with `olm train`)", json);
            return null;
        }
        try
        {
            var (model, tokenizer, _) = TrainingRun.LoadForInference(checkpoint.FullName);
            return (model, tokenizer);
        }
        catch (Exception e) when (e is InvalidDataException or ConfigException or ArgumentException)
        {
            Cli.Fail($"--checkpoint: {e.Message}", json);
            return null;
        }
    }
}
