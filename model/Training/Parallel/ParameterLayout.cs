using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training.Parallel;

/// <summary>
/// The flat parameter vector of a model: its parameters in <see cref="ILanguageModel.Parameters"/> order, each flattened
/// row-major, named as the <see cref="Module"/> names them. Parameter-server shards own contiguous ranges of it; workers
/// move values and gradients as slices of it.
/// </summary>
public sealed class ParameterLayout
{
    private ParameterLayout(IReadOnlyList<ParameterSpan> parameters)
    {
        Parameters = parameters;
        Count = parameters[^1].End;
    }

    /// <summary>P, the number of elements of the flat vector.</summary>
    public long Count { get; }

    public IReadOnlyList<ParameterSpan> Parameters { get; }

    /// <summary>The layout of <paramref name="model"/>'s parameters, which must all be Float32.</summary>
    public static ParameterLayout Of(ILanguageModel model)
    {
        var spans = new List<ParameterSpan>();
        long offset = 0;
        foreach (var (name, parameter) in NamedParameters(model))
        {
            if (parameter.DType != ScalarType.Float32)
                throw new ArgumentException($"parameter '{name}' is {parameter.DType}; the flat parameter vector holds {ScalarType.Float32}", nameof(model));
            spans.Add(new ParameterSpan(name, parameter.Shape, offset, parameter.NumElements));
            offset += parameter.NumElements;
        }
        if (offset == 0) throw new ArgumentException($"{model.GetType().Name} has no parameters to train", nameof(model));
        return new ParameterLayout(spans);
    }

    /// <summary>
    /// <paramref name="shards"/> contiguous ranges that cover [0, P) in order, shard k being [⌊kP/K⌋, ⌊(k+1)P/K⌋), so
    /// their sizes differ by at most one.
    /// </summary>
    public IReadOnlyList<ShardRange> Split(int shards)
    {
        if (shards < 1 || shards > Count)
            throw new ArgumentOutOfRangeException(nameof(shards), shards, $"the number of shards must lie in [1, {Count}] (the parameter count), got {shards}");
        return [.. Enumerable.Range(0, shards).Select(k => new ShardRange(k, Boundary(k), Boundary(k + 1) - Boundary(k)))];

        long Boundary(int k) => (long)((Int128)Count * k / shards);
    }

    /// <summary>
    /// The current values of <paramref name="model"/>'s parameters as one flat vector, e.g. a run's initial values: build
    /// the model with <see cref="TrainingRun.BuildModel"/> (under the lock that guards libtorch's process-wide RNG) so that
    /// they equal the single-process trainer's.
    /// </summary>
    public float[] Flatten(ILanguageModel model)
    {
        var parameters = TensorsOf(model);
        if (Count > Array.MaxLength) throw new InvalidOperationException($"{Count} parameters do not fit in one array");
        var values = new float[Count];
        for (var i = 0; i < parameters.Count; i++)
            parameters[i].CopyTo<float>(values.AsSpan((int)Parameters[i].Offset, (int)Parameters[i].Length));
        return values;
    }

    /// <summary>
    /// Copies the flat vector <paramref name="values"/> (P values, e.g. the parameter-server shards' slices one after
    /// another) into <paramref name="model"/>'s parameters: the inverse of <see cref="Flatten"/>.
    /// </summary>
    public void Load(ILanguageModel model, ReadOnlySpan<float> values)
    {
        if (values.Length != Count)
            throw new ArgumentException($"the layout holds {Count} values, got {values.Length}", nameof(values));
        CopyInto(TensorsOf(model), Segments(new ShardRange(0, 0, Count)), values);
    }

    /// <summary>The parameters that <paramref name="range"/> holds parts of, in order.</summary>
    public IReadOnlyList<ParameterSegment> Segments(ShardRange range)
    {
        if (range.Length < 1 || range.Start < 0 || range.End > Count)
            throw new ArgumentOutOfRangeException(nameof(range), range, $"a shard must be a non-empty range within [0, {Count})");
        var segments = new List<ParameterSegment>();
        for (var i = FirstParameterEndingAfter(range.Start); i < Parameters.Count && Parameters[i].Offset < range.End; i++)
        {
            var start = Math.Max(range.Start, Parameters[i].Offset);
            var end = Math.Min(range.End, Parameters[i].End);
            if (end > start) segments.Add(new ParameterSegment(i, start - Parameters[i].Offset, end - start, start - range.Start));
        }
        return segments;
    }

    /// <summary><paramref name="model"/>'s parameters, after checking that they have this layout's names and shapes.</summary>
    internal IReadOnlyList<Tensor> TensorsOf(ILanguageModel model)
    {
        var named = NamedParameters(model);
        if (named.Count != Parameters.Count)
            throw new ArgumentException($"the model has {named.Count} parameters, the layout {Parameters.Count}", nameof(model));
        for (var i = 0; i < named.Count; i++)
        {
            var (name, parameter) = named[i];
            if (name != Parameters[i].Name || !parameter.Shape.SequenceEqual(Parameters[i].Shape))
                throw new ArgumentException(
                    $"the model's parameter {i} is '{name}' [{string.Join(", ", parameter.Shape)}], the layout's is {Parameters[i]}", nameof(model));
        }
        return [.. named.Select(p => p.Parameter)];
    }

    /// <summary>
    /// Copies <paramref name="slice"/>, the values of a range of the flat vector, into the parts of
    /// <paramref name="parameters"/> that the range's <paramref name="segments"/> name.
    /// </summary>
    internal static void CopyInto(IReadOnlyList<Tensor> parameters, IReadOnlyList<ParameterSegment> segments, ReadOnlySpan<float> slice)
    {
        using var scope = DisposeScope.Enter();
        using var noGrad = LibTorch.NoGrad();
        // One host-to-device copy of the whole slice when the parameters are on a GPU, not one per segment.
        var source = Tensor.FromArray(slice, [slice.Length]).To(TrainingDevices.DeviceOf(parameters));
        // View(-1) writes through to the parameter: the segment's elements of it, flattened row-major.
        foreach (var segment in segments)
            parameters[segment.Parameter].View(-1).Narrow(0, segment.Start, segment.Length)
                .CopyFrom(source.Narrow(0, segment.ShardOffset, segment.Length));
    }

    /// <summary>Checks that <paramref name="shards"/> are shards 0, 1, ... in order, covering [0, P) without gaps or overlaps.</summary>
    internal void RequireCover(IReadOnlyList<ShardRange> shards, string name)
    {
        long next = 0;
        for (var k = 0; k < shards.Count; k++)
        {
            var shard = shards[k];
            if (shard.Index != k) throw new ArgumentException($"{name}[{k}].Index is {shard.Index}, expected {k}", name);
            if (shard.Start != next) throw new ArgumentException($"{name}[{k}].Start is {shard.Start}, expected {next} (the end of the shard before)", name);
            if (shard.Length < 1) throw new ArgumentException($"{name}[{k}].Length is {shard.Length}; a shard holds at least one element", name);
            next = shard.End;
        }
        if (next != Count) throw new ArgumentException($"{name} cover [0, {next}) but the model has {Count} parameters", name);
    }

    private static List<(string Name, Tensor Parameter)> NamedParameters(ILanguageModel model) =>
        model is Module module
            ? [.. module.NamedParameters()]
            : throw new ArgumentException($"{model.GetType().Name} is not a Module, so its parameters have no names", nameof(model));

    private int FirstParameterEndingAfter(long position)
    {
        int low = 0, high = Parameters.Count;
        while (low < high)
        {
            var middle = (low + high) / 2;
            if (Parameters[middle].End <= position) low = middle + 1;
            else high = middle;
        }
        return low;
    }
}
