using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training.Parallel;

/// <summary>
/// A worker's model replica in synchronous data-parallel training: it takes the parameter shards' values, computes the
/// gradient of the mean loss of its part of a step's batch, and returns it cut into the shards' slices. With N replicas
/// taking parts 0..N−1 and the shards averaging the gradients by target count, a step equals one step of the
/// single-process <see cref="Trainer"/> on the whole batch (with dropout off: each replica draws its own masks).
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
    private readonly IBatchSource train;
    private readonly IReadOnlyList<Tensor> parameters;
    private readonly IReadOnlyList<ShardRange> shards;
    private readonly IReadOnlyList<ParameterSegment>[] segments;

    // Truncated BPTT: the detached state step s left goes to slot s % 2, so the state step s − 1 left is still there
    // when step s is computed again (a redone step starts where its first attempt did).
    private readonly CarriedStates states = new(2);
    private readonly (long Step, int Rank, int Workers)?[] stateOrigins = new (long, int, int)?[2];

    public DataParallelReplica(ILanguageModel model, IBatchSource train, ParameterLayout layout, IReadOnlyList<ShardRange> shards)
    {
        this.model = model;
        module = model as Module ?? throw new ArgumentException($"{model.GetType().Name} is not a Module", nameof(model));
        this.train = train;
        parameters = layout.TensorsOf(model);
        layout.RequireCover(shards, nameof(shards));
        this.shards = [.. shards];
        segments = [.. shards.Select(layout.Segments)];
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
    /// Forward and backward of the mean loss of part <paramref name="rank"/> of <paramref name="workers"/> of training
    /// batch <paramref name="step"/>, in training mode. A recurrent model on a source whose batches continue each other
    /// starts from the detached state this replica's part of step − 1 left, when this replica computed that part (same
    /// rank and worker count); otherwise (first step, new pass, rank or worker count changed) from zeros. A parameter
    /// the loss does not reach gets a zero gradient.
    /// </summary>
    public ReplicaGradients ComputeGradients(long step, int rank, int workers)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(step);
        ArgumentOutOfRangeException.ThrowIfLessThan(workers, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, workers);
        module.Train();
        module.ZeroGrad();
        using var grad = LibTorch.EnableGrad();
        using var scope = DisposeScope.Enter();
        var previous = (int)((step + 1) % 2);
        var start = train.ContinuesPreviousBatch(step) && stateOrigins[previous] == (step - 1, rank, workers) ? states[previous] : null;
        var (loss, tokens, final) = BatchLoss.Compute(model, train, step, rank, workers, start);
        loss.Backward();
        if (final is not null)
        {
            states.Carry((int)(step % 2), final);
            stateOrigins[step % 2] = (step, rank, workers);
        }

        var slices = new float[shards.Count][];
        for (var k = 0; k < shards.Count; k++)
        {
            slices[k] = new float[shards[k].Length];
            foreach (var segment in segments[k])
            {
                if (parameters[segment.Parameter].Grad is not { } gradient) continue;
                gradient.Reshape(-1).Narrow(0, segment.Start, segment.Length)
                    .CopyTo<float>(slices[k].AsSpan((int)segment.ShardOffset, (int)segment.Length));
            }
        }
        module.ZeroGrad();
        return new ReplicaGradients(loss.ToDouble(), tokens, slices);
    }

    /// <summary>Mean loss over batches 0..<paramref name="batches"/>−1 of <paramref name="source"/>, in eval mode, as <see cref="Trainer.Evaluate"/>.</summary>
    public double Evaluate(IBatchSource source, int batches) => BatchLoss.Evaluate(model, module, source, batches);

    public void Dispose() => states.Dispose();

    private ShardRange Shard(int shard) =>
        shard >= 0 && shard < shards.Count ? shards[shard] : throw new ArgumentOutOfRangeException(nameof(shard), shard, $"there are {shards.Count} shards");
}
