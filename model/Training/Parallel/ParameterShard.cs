using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training.Parallel;

/// <summary>
/// A parameter-server shard: one contiguous slice of the flat parameter vector with its optimizer state. It sums the
/// replicas' gradient slices weighted by their target counts, reports the squared norm of their mean for global-norm
/// clipping, and applies the run's optimizer (any of <see cref="OptimizerSection"/>'s, unchanged) to the clipped mean.
/// </summary>
/// <remarks>
/// The slice is held as one 1-D leaf tensor per parameter it covers, each in the parameter group of the parameter it was
/// cut from (decay_matrices_only goes by the original's rank). The optimizers update elementwise, so an update of the
/// segments is the update of the whole parameters, restricted to the slice. Not thread-safe: one call at a time, as a
/// grain's turns are.
/// </remarks>
public sealed class ParameterShard : IDisposable
{
    private const string ValuesTensor = "values";
    private const string RangeKey = "olm.shard";
    private const string SegmentsKey = "olm.shard.segments";
    private const string OptimizerKey = "olm.shard.optimizer";
    private const string OptimizerStepsKey = "olm.shard.optimizer_steps";
    private static readonly string[] ReservedKeys = [RangeKey, SegmentsKey, OptimizerKey, OptimizerStepsKey];

    private readonly ParameterLayout layout;
    private readonly IReadOnlyList<ParameterSegment> segments;
    private readonly Tensor[] leaves;
    private readonly Optimizer optimizer;
    private readonly OptimizerSection optimizerSection;
    private readonly double[] gradientSum;
    private long tokens;

    public ParameterShard(ParameterLayout layout, ShardRange range, ReadOnlySpan<float> initialValues, OptimizerSection optimizer)
        : this(layout, range, initialValues, optimizer, new Dictionary<string, string>())
    {
    }

    private ParameterShard(ParameterLayout layout, ShardRange range, ReadOnlySpan<float> initialValues, OptimizerSection optimizer,
        IReadOnlyDictionary<string, string> metadata)
    {
        this.layout = layout;
        segments = layout.Segments(range);
        if (range.Length > Array.MaxLength) throw new ArgumentOutOfRangeException(nameof(range), range, "a shard must fit in one array");
        if (initialValues.Length != range.Length)
            throw new ArgumentException($"shard {range.Index} holds {range.Length} values, got {initialValues.Length}", nameof(initialValues));
        Range = range;
        Metadata = metadata;
        optimizerSection = optimizer;
        gradientSum = new double[range.Length];
        leaves = new Tensor[segments.Count];
        for (var i = 0; i < leaves.Length; i++)
            leaves[i] = Tensor.FromArray(initialValues.Slice((int)segments[i].ShardOffset, (int)segments[i].Length), [segments[i].Length], requiresGrad: true)
                .DetachFromDisposeScope();
        try
        {
            this.optimizer = optimizer.Build(leaves, [.. segments.Select(s => (long)layout.Parameters[s.Parameter].Rank)]);
        }
        catch
        {
            foreach (var leaf in leaves) leaf.Dispose();
            throw;
        }
    }

    public ShardRange Range { get; }

    /// <summary>The metadata of the file this shard was loaded from (empty for a new shard).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The gradients accumulated since the last <see cref="Apply"/> or <see cref="DiscardGradients"/>.</summary>
    public int Contributions { get; private set; }

    /// <summary>The current values of the slice.</summary>
    public float[] Values()
    {
        var values = new float[Range.Length];
        for (var i = 0; i < leaves.Length; i++)
            leaves[i].CopyTo<float>(values.AsSpan((int)segments[i].ShardOffset, (int)segments[i].Length));
        return values;
    }

    /// <summary>Adds a replica's gradient slice (of its mean loss over <paramref name="tokens"/> targets) with weight <paramref name="tokens"/>.</summary>
    public void Accumulate(ReadOnlySpan<float> gradient, long tokens)
    {
        if (gradient.Length != Range.Length)
            throw new ArgumentException($"shard {Range.Index} holds {Range.Length} values, got a gradient of {gradient.Length}", nameof(gradient));
        ArgumentOutOfRangeException.ThrowIfLessThan(tokens, 1);
        for (var i = 0; i < gradient.Length; i++) gradientSum[i] += (double)tokens * gradient[i];
        this.tokens += tokens;
        Contributions++;
    }

    /// <summary>The squared 2-norm of the token-weighted mean of the accumulated gradients (NaN or ∞ when they are).</summary>
    public double SquaredGradientNorm()
    {
        RequireContributions();
        double sum = 0;
        foreach (var g in gradientSum) sum += g * g;
        return sum / ((double)tokens * tokens);
    }

    /// <summary>
    /// One optimizer step with gradient mean · <paramref name="clipCoefficient"/> at <paramref name="learningRate"/>
    /// (the schedule's value for this step); then the accumulated gradients are dropped.
    /// </summary>
    public void Apply(double learningRate, double clipCoefficient)
    {
        RequireContributions();
        if (!(clipCoefficient >= 0) || double.IsInfinity(clipCoefficient))
            throw new ArgumentOutOfRangeException(nameof(clipCoefficient), clipCoefficient, "the clip coefficient must be a finite non-negative number");
        optimizer.LearningRate = learningRate;
        var scale = clipCoefficient / tokens;
        var gradient = new float[Range.Length];
        for (var i = 0; i < gradient.Length; i++) gradient[i] = (float)(gradientSum[i] * scale);
        using (var scope = DisposeScope.Enter())
        {
            for (var i = 0; i < leaves.Length; i++)
                leaves[i].Grad = Tensor.FromArray<float>(gradient.AsSpan((int)segments[i].ShardOffset, (int)segments[i].Length), [segments[i].Length]);
            optimizer.Step();
            optimizer.ZeroGrad();
        }
        DiscardGradients();
    }

    /// <summary>Drops the accumulated gradients without an update (a skipped or redone step).</summary>
    public void DiscardGradients()
    {
        Array.Clear(gradientSum);
        tokens = 0;
        Contributions = 0;
    }

    /// <summary>
    /// Writes the slice, the optimizer state with its step counts, the shard's place in the layout and
    /// <paramref name="metadata"/> to one safetensors file, atomically.
    /// </summary>
    public void Save(string path, IReadOnlyDictionary<string, string> metadata)
    {
        if (ReservedKeys.FirstOrDefault(metadata.ContainsKey) is { } reserved)
            throw new ArgumentException($"metadata key '{reserved}' is reserved for the shard's own description", nameof(metadata));
        using var scope = DisposeScope.Enter();
        var tensors = new Dictionary<string, Tensor> { [ValuesTensor] = Tensor.FromArray<float>(Values()) };
        var all = new Dictionary<string, string>(metadata)
        {
            [RangeKey] = new JsonObject
            {
                ["index"] = Range.Index, ["start"] = Range.Start, ["length"] = Range.Length, ["parameter_count"] = layout.Count,
            }.ToJsonString(),
            [SegmentsKey] = new JsonArray([.. segments.Select(s => (JsonNode)new JsonObject
            {
                ["name"] = layout.Parameters[s.Parameter].Name,
                ["shape"] = new JsonArray([.. layout.Parameters[s.Parameter].Shape.Select(d => (JsonNode)d)]),
                ["start"] = s.Start,
                ["length"] = s.Length,
            })]).ToJsonString(),
            [OptimizerKey] = OptimizerName(optimizerSection),
        };
        OptimizerStateEntries.Add(optimizer.StateDict(), tensors, all, OptimizerStepsKey);
        Safetensors.Save(path, tensors, all);
    }

    /// <summary>
    /// Restores a shard that <see cref="Save"/> wrote for <paramref name="range"/> of <paramref name="layout"/> with the
    /// same optimizer. A truncated or corrupt file, or one written for another range, layout or optimizer, is refused with
    /// an <see cref="InvalidDataException"/> that names what differs.
    /// </summary>
    public static ParameterShard Load(string path, ParameterLayout layout, ShardRange range, OptimizerSection optimizer)
    {
        using var content = Safetensors.Load(path);
        var metadata = content.Metadata;
        CheckRange(path, metadata, layout, range);
        CheckSegments(path, metadata, layout, range);
        var optimizerName = metadata.GetValueOrDefault(OptimizerKey);
        if (optimizerName != OptimizerName(optimizer))
            throw Invalid(path, $"optimizer.name: the file holds the state of '{optimizerName}', the shard's optimizer is '{OptimizerName(optimizer)}'");
        if (!content.Tensors.TryGetValue(ValuesTensor, out var values))
            throw Invalid(path, $"tensor '{ValuesTensor}' is missing");
        if (values.DType != ScalarType.Float32 || !values.Shape.SequenceEqual([range.Length]))
            throw Invalid(path, $"tensor '{ValuesTensor}' is {values.DType} [{string.Join(", ", values.Shape)}], expected {ScalarType.Float32} [{range.Length}]");
        var state = OptimizerStateEntries.Read(content.Tensors, metadata, OptimizerStepsKey, reason => Invalid(path, reason));

        var shard = new ParameterShard(layout, range, values.ToArray<float>(), optimizer, metadata);
        try
        {
            shard.optimizer.LoadStateDict(state);
            return shard;
        }
        catch (ArgumentException e)
        {
            shard.Dispose();
            throw Invalid(path, $"optimizer state: {e.Message}");
        }
    }

    public void Dispose()
    {
        optimizer.Dispose();
        foreach (var leaf in leaves) leaf.Dispose();
    }

    private void RequireContributions()
    {
        if (Contributions == 0) throw new InvalidOperationException($"shard {Range.Index} has no gradient contributions for this step");
    }

    private static string OptimizerName(OptimizerSection optimizer) => optimizer.Name.ToString().ToLowerInvariant();

    private static void CheckRange(string path, IReadOnlyDictionary<string, string> metadata, ParameterLayout layout, ShardRange range)
    {
        var stored = ParseJson(path, metadata, RangeKey) as JsonObject ?? throw Invalid(path, $"metadata '{RangeKey}' is not an object");
        var expected = new (string Field, string Key, long Value)[]
        {
            ("layout.Count", "parameter_count", layout.Count), ("range.Index", "index", range.Index),
            ("range.Start", "start", range.Start), ("range.Length", "length", range.Length),
        };
        foreach (var (field, key, value) in expected)
        {
            var found = Long(path, stored[key], $"{RangeKey}.{key}");
            if (found != value)
                throw Invalid(path, $"{field}: the file holds shard {stored["index"]} [{stored["start"]}, +{stored["length"]}) of {stored["parameter_count"]} parameters, so {field} {found} where {value} was expected");
        }
    }

    private static void CheckSegments(string path, IReadOnlyDictionary<string, string> metadata, ParameterLayout layout, ShardRange range)
    {
        var stored = ParseJson(path, metadata, SegmentsKey) as JsonArray ?? throw Invalid(path, $"metadata '{SegmentsKey}' is not a list");
        var expected = layout.Segments(range);
        if (stored.Count != expected.Count)
            throw Invalid(path, $"layout.Parameters: the file's slice covers {stored.Count} parameters, the layout's {expected.Count}");
        for (var i = 0; i < expected.Count; i++)
        {
            var parameter = layout.Parameters[expected[i].Parameter];
            var entry = stored[i] as JsonObject ?? throw Invalid(path, $"metadata '{SegmentsKey}'[{i}] is not an object");
            string name;
            long[] shape;
            try
            {
                name = entry["name"]!.GetValue<string>();
                shape = [.. entry["shape"]!.AsArray().Select(d => d!.GetValue<long>())];
            }
            catch (Exception e) when (e is InvalidOperationException or FormatException or NullReferenceException)
            {
                throw Invalid(path, $"metadata '{SegmentsKey}'[{i}] is malformed: {e.Message}");
            }
            var (start, length) = (Long(path, entry["start"], $"{SegmentsKey}[{i}].start"), Long(path, entry["length"], $"{SegmentsKey}[{i}].length"));
            if (name != parameter.Name || !shape.SequenceEqual(parameter.Shape) || start != expected[i].Start || length != expected[i].Length)
                throw Invalid(path, $"layout.Parameters: segment {i} is elements [{start}, +{length}) of '{name}' [{string.Join(", ", shape)}] in the file, " +
                                    $"[{expected[i].Start}, +{expected[i].Length}) of {parameter} in the layout");
        }
    }

    private static JsonNode? ParseJson(string path, IReadOnlyDictionary<string, string> metadata, string key)
    {
        if (!metadata.TryGetValue(key, out var text)) throw Invalid(path, $"metadata '{key}' is missing: it is not a parameter-shard file");
        try
        {
            return JsonNode.Parse(text);
        }
        catch (JsonException e)
        {
            throw Invalid(path, $"metadata '{key}' is not valid JSON: {e.Message}");
        }
    }

    private static long Long(string path, JsonNode? node, string what)
    {
        try
        {
            return node?.GetValue<long>() ?? throw Invalid(path, $"metadata '{what}' is missing");
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw Invalid(path, $"metadata '{what}' is not an integer: {e.Message}");
        }
    }

    private static InvalidDataException Invalid(string path, string reason) =>
        new($"{path} cannot be restored as a parameter shard: {reason}");
}
