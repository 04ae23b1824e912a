using System.Diagnostics;
using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training.Parallel;

/// <summary>
/// A worker's model replica in synchronous data-parallel training: it takes the parameter shards' values, computes the
/// gradient of the mean loss of a part of a step's batch, and returns it cut into the shards' slices. With the batch's N
/// parts computed by any replicas (one part each, or several when workers are missing) and the shards averaging the
/// gradients by target count, a step equals one step of the single-process <see cref="Trainer"/> on the whole batch
/// (with dropout off: each replica draws its own masks).
/// </summary>
/// <remarks>
/// <para>Every call runs synchronously on the calling thread: libtorch's grad mode is per thread, and the forward and
/// backward of <see cref="ComputeGradients"/> (which turns recording on for its duration) must run on the same one. A grain
/// should call it within one turn, with no await between entering and leaving it; the replica is not thread-safe.</para>
/// <para>The model is the caller's (built with <see cref="TrainingRun.BuildModel"/>; its initial values do not matter,
/// as the shards' values overwrite them) and is not disposed here.</para>
/// </remarks>
public sealed class DataParallelReplica : IDisposable
{
    private readonly ILanguageModel model;
    private readonly Module module;
    private readonly IReadOnlyList<Tensor> parameters;
    private readonly IReadOnlyList<ShardRange> shards;
    private readonly IReadOnlyList<ParameterSegment>[] segments;
    private readonly Precision precision;
    private readonly GradientStaging staging;

    // Truncated BPTT, per batch part: the detached state part p of step s left goes to slot s % 2, so the state step
    // s − 1 left is still there when step s is computed again (a redone step starts where its first attempt did).
    private readonly Dictionary<int, (CarriedStates States, long?[] Steps)> carried = [];

    /// <param name="model">The replica's model, on the device it trains on.</param>
    /// <param name="layout">The flat parameter vector's layout.</param>
    /// <param name="shards">The parameter servers' ranges of it.</param>
    /// <param name="precision">The forward pass's precision.</param>
    public DataParallelReplica(ILanguageModel model, ParameterLayout layout, IReadOnlyList<ShardRange> shards, Precision precision = Precision.Fp32)
    {
        this.model = model;
        module = model as Module ?? throw new ArgumentException($"{model.GetType().Name} is not a Module", nameof(model));
        parameters = layout.TensorsOf(model);
        layout.RequireCover(shards, nameof(shards));
        this.shards = [.. shards];
        segments = [.. shards.Select(layout.Segments)];
        this.precision = precision;
        staging = new GradientStaging(TrainingDevices.DeviceOf(parameters), [.. shards.Select(s => s.Length)]);
    }

    /// <summary>Copies shard <paramref name="shard"/>'s values (its slice of the flat vector) into the model's parameters.</summary>
    public void LoadShard(int shard, ReadOnlySpan<float> values)
    {
        var range = Shard(shard);
        if (values.Length != range.Length)
            throw new ArgumentException($"shard {shard} holds {range.Length} values, got {values.Length}", nameof(values));
        ParameterLayout.CopyInto(parameters, segments[shard], values);
    }

    /// <summary>
    /// Forward and backward of the mean loss of <paramref name="batch"/>, part <paramref name="part"/> of training batch
    /// <paramref name="step"/>, in training mode. A recurrent model on batches that continue each other starts from the
    /// detached state part <paramref name="part"/> of step − 1 left, when this replica computed it; otherwise (first
    /// step, new pass, the part was another replica's) from zeros. A parameter the loss does not reach gets a zero gradient.
    /// </summary>
    public ReplicaGradients ComputeGradients(long step, int part, BatchTokens batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfNegative(part);
        ArgumentNullException.ThrowIfNull(batch);
        module.Train();
        module.ZeroGrad();
        using var grad = LibTorch.EnableGrad();
        using var scope = DisposeScope.Enter();
        if (!carried.TryGetValue(part, out var partStates))
            carried[part] = partStates = (new CarriedStates(2), new long?[2]);
        var previous = (int)((step + 1) % 2);
        var start = batch.ContinuesPrevious && partStates.Steps[previous] == step - 1 ? partStates.States[previous] : null;
        var (inputs, targets) = batch.ToTensors();
        var clock = Stopwatch.StartNew();
        var (loss, tokens, final) = BatchLoss.Compute(model, inputs, targets, start, precision);
        var forward = clock.Elapsed;
        loss.Backward();
        var backward = clock.Elapsed - forward;
        if (final is not null)
        {
            partStates.States.Carry((int)(step % 2), final);
            partStates.Steps[step % 2] = step;
        }

        var slices = staging.CopyOut(parameters, segments);
        module.ZeroGrad();
        return new ReplicaGradients(loss.ToDouble(), tokens, slices) { Forward = forward, Backward = backward };
    }

    /// <summary>Mean loss over batches 0..<paramref name="batches"/>−1 of <paramref name="source"/>, in eval mode, as <see cref="Trainer.Evaluate"/>.</summary>
    public double Evaluate(IBatchSource source, int batches) => BatchLoss.Evaluate(model, module, source, batches, precision);

    public void Dispose()
    {
        foreach (var (states, _) in carried.Values) states.Dispose();
        carried.Clear();
        staging.Dispose();
    }

    private ShardRange Shard(int shard) =>
        shard >= 0 && shard < shards.Count ? shards[shard] : throw new ArgumentOutOfRangeException(nameof(shard), shard, $"there are {shards.Count} shards");
}
