using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using OrleansLm.Model.Training;

namespace OrleansLm.Cli.Scaling;

/// <summary>
/// sweep.yaml: a family of runs over model sizes and token budgets. Each point is the <c>base</c> run config (inline,
/// or the run.yaml at <c>base_config</c>, relative to sweep.yaml) with one of <c>models</c> laid over its model section
/// and one of <c>steps</c> as training.steps; its run id is <c>name-model-steps</c>. Read strictly, as run.yaml is.
/// </summary>
/// <param name="Models">
/// Named overrides of the model section, e.g. <c>{name: d64, dim: 64, layers: 2, heads: 4}</c>: their fields replace the
/// base's, or, when one names another <c>family</c>, it replaces the section. None: the base's model, named "base".
/// </param>
/// <param name="Steps">
/// Token budgets as training steps, each D = steps · batch_size · block_size tokens. Each run's learning-rate schedule
/// spans its own steps (schedule.decay_steps defaults to training.steps), as a compute-optimal run's should. None: the
/// base's training.steps.
/// </param>
public sealed partial record SweepConfig(
    string Name,
    JsonObject? Base = null,
    string? BaseConfig = null,
    IReadOnlyList<JsonObject>? Models = null,
    IReadOnlyList<long>? Steps = null,
    int Workers = 1,
    int ParameterServers = 1) : IValidatableConfig
{
    private const int MaxRunIdLength = 64;
    private const string BaseModelName = "base";

    public void Validate()
    {
        ConfigFile.Require(RunIdPart().IsMatch(Name), "name", $"must be letters, digits, '.', '_' or '-', got '{Name}'");
        ConfigFile.Require((Base is null) != (BaseConfig is null), "base", "give either base (a run.yaml mapping) or base_config (a run.yaml path), not both or neither");
        ConfigFile.Require(Workers >= 1, "workers", $"must be at least 1, got {Workers}");
        ConfigFile.Require(ParameterServers >= 1, "parameter_servers", $"must be at least 1, got {ParameterServers}");
        ConfigFile.Require(Models is null || Models.Count > 0, "models", "must list at least one model, or be left out");
        ConfigFile.Require(Steps is null || Steps.Count > 0, "steps", "must list at least one budget, or be left out");
        for (var i = 0; i < Steps?.Count; i++)
        {
            ConfigFile.Require(Steps[i] >= 1, $"steps[{i}]", $"must be at least 1, got {Steps[i]}");
            ConfigFile.Require(!Steps.Take(i).Contains(Steps[i]), $"steps[{i}]", $"{Steps[i]} is listed twice");
        }
        var names = ModelNames();
        for (var i = 0; i < names.Count; i++)
        {
            ConfigFile.Require(RunIdPart().IsMatch(names[i]), $"models[{i}].name", $"must be letters, digits, '.', '_' or '-', got '{names[i]}'");
            ConfigFile.Require(names.IndexOf(names[i]) == i, $"models[{i}].name", $"'{names[i]}' is used twice");
        }
    }

    /// <summary>Reads and validates sweep.yaml, and every point's run config (by binding it as a RunConfig), before anything runs.</summary>
    /// <exception cref="ConfigException">Naming the file and the offending field (with the point, for a point's config).</exception>
    public static (SweepConfig Sweep, IReadOnlyList<PlannedRun> Runs) Load(string path)
    {
        SweepConfig sweep;
        try
        {
            sweep = ConfigFile.Load<SweepConfig>(path);
        }
        catch (ConfigException e) when (!e.Message.StartsWith(path, StringComparison.Ordinal))
        {
            throw new ConfigException($"{path}: {e.Message}", e);
        }
        return (sweep, sweep.Plan(path));
    }

    private IReadOnlyList<PlannedRun> Plan(string path)
    {
        var baseTree = Base?.DeepClone().AsObject() ?? LoadBase(path);
        // The base is bound on its own only for its steps: its points are what must be valid.
        var budgets = Steps ?? [Bind(baseTree, $"{path}: base").TrainingOrDefault.Steps];
        var runs = new List<PlannedRun>();
        foreach (var (model, index) in ModelNames().Select((name, index) => (name, index)))
        {
            foreach (var steps in budgets)
            {
                var runId = $"{Name}-{model}-{steps}";
                var where = $"{path}: run {runId} (models[{index}], {steps} steps)";
                if (runId.Length > MaxRunIdLength) throw new ConfigException($"{where}: the run id is longer than {MaxRunIdLength} characters; shorten name or the model's name");
                var tree = baseTree.DeepClone().AsObject();
                if (Models is not null) Override(tree, Models[index]);
                Section(tree, "training", where)["steps"] = steps;
                var run = Bind(tree, where);
                if (run.Data.BatchSize % Workers != 0)
                    throw new ConfigException($"{where}: workers: data.batch_size ({run.Data.BatchSize}) must divide by it ({Workers})");
                runs.Add(new PlannedRun(runId, model, steps, tree.ToJsonString()));
            }
        }
        return runs;
    }

    private JsonObject LoadBase(string path)
    {
        var file = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, BaseConfig!);
        string text;
        try
        {
            text = File.ReadAllText(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"{path}: base_config: cannot read {file}: {e.Message}", e);
        }
        return ConfigFile.ParseTree(text, file);
    }

    private List<string> ModelNames() =>
        Models?.Select((model, i) => model["name"] is JsonValue name && name.TryGetValue<string>(out var text)
            ? text
            : throw new ConfigException($"models[{i}].name: required, a string naming the model in its runs' ids")).ToList()
        ?? [BaseModelName];

    /// <summary>Lays <paramref name="model"/>'s fields (but its name) over the tree's model section, or replaces it with them for another family.</summary>
    private static void Override(JsonObject tree, JsonObject model)
    {
        var fields = model.Where(field => field.Key != "name").ToList();
        // Without a model section the base trains RunConfig's default model, a Transformer.
        if (tree["model"] is not JsonObject section) tree["model"] = section = new JsonObject { ["family"] = "transformer" };
        var family = fields.FirstOrDefault(field => field.Key == "family").Value;
        if (family is not null && family.ToJsonString() != section["family"]?.ToJsonString())
        {
            section = new JsonObject();
            tree["model"] = section;
        }
        foreach (var (key, value) in fields) section[key] = value?.DeepClone();
    }

    private static JsonObject Section(JsonObject tree, string name, string where) => tree[name] switch
    {
        null => (JsonObject)(tree[name] = new JsonObject()),
        JsonObject section => section,
        _ => throw new ConfigException($"{where}: {name}: expected a mapping of fields"),
    };

    private static RunConfig Bind(JsonObject tree, string where)
    {
        try
        {
            return ConfigFile.Bind<RunConfig>(tree, where);
        }
        catch (ConfigException e) when (!e.Message.StartsWith(where, StringComparison.Ordinal))
        {
            throw new ConfigException($"{where}: {e.Message}", e);
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex RunIdPart();
}
