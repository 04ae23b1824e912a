using System.Text.Json.Nodes;
using OrleansLm.Model.Training;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.Silo.Grains;

/// <summary>Reading a <see cref="RunSpec"/>'s configuration, with errors that name the spec's field.</summary>
public static class RunSpecs
{
    public static RunConfig Config(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        try
        {
            return ConfigFile.FromJson<RunConfig>(spec.ConfigJson, "spec.config");
        }
        catch (ConfigException e)
        {
            throw new ArgumentException(e.Message, nameof(spec), e);
        }
    }

    /// <summary>The spec's model family (transformer, lstm, ...), read without binding and validating the configuration.</summary>
    public static string Family(RunSpec spec) => Family(JsonNode.Parse(spec.ConfigJson));

    /// <summary>The model family of a run's configuration already parsed as JSON.</summary>
    public static string Family(JsonNode? config) => config?["model"]?["family"]?.GetValue<string>() ?? "transformer";

    /// <summary>The labels of the run's metrics.</summary>
    public static TrainingMeters.RunLabels Labels(string runId, RunSpec spec) => new(runId, Family(spec));

    /// <summary>The configuration of an n-gram run, with its model section.</summary>
    public static (RunConfig Config, NGramSection Section) NGramConfig(RunSpec spec)
    {
        var config = Config(spec);
        return config.ModelOrDefault is NGramSection section
            ? (config, section)
            : throw new ArgumentException($"spec.config: model.family is {config.ModelOrDefault.GetType().Name.Replace("Section", "")}, not ngram: the run has no n-grams to count", nameof(spec));
    }

    /// <summary>The run's model size and training cost per token, read off a model built from its configuration.</summary>
    public static RunShape Shape(RunConfig config, RunData data)
    {
        var (_, corpus) = data.Load(config.Data);
        using var model = TrainingRun.BuildModel(config, corpus.VocabularySize);
        return new RunShape(model.ParameterCount, model.FlopsPerToken(config.Data.BlockSize), (long)config.Data.BatchSize * config.Data.BlockSize);
    }

    /// <summary>The spec's data-parallel parts N, which must be at least one.</summary>
    public static void CheckWorkers(RunSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Workers < 1)
            throw new ArgumentException($"spec.workers must be at least 1, not {spec.Workers}", nameof(spec));
    }
}
