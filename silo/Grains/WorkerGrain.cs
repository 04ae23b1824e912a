using System.Diagnostics;
using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;
using OrleansLm.Silo.Metrics;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// A model replica holding one of its silo's devices: each step it pulls every parameter shard, draws its batch parts
/// from their data shards, computes their gradient (<see cref="DataParallelReplica"/>) on training.device and pushes
/// each slice to the shard that owns it. On a GPU silo it claims one of the silo's GPUs (<see cref="GpuLeases"/>) for as
/// long as it is active; the parameter servers stay on the host.
/// </summary>
[SiloRoleConstraint(SiloGrains.WorkerRole, RequiresDevice = true)]
public sealed class WorkerGrain(RunData data, GpuLeases gpus) : Grain, IWorkerGrain
{
    private int? gpu;
    private ILanguageModel? model;
    private DataParallelReplica? replica;
    private IBatchSource? validation;
    private IReadOnlyList<IParameterServerGrain> shards = [];
    private IReadOnlyList<IDataShardGrain> dataShards = [];
    private readonly HashSet<int> preparedParts = [];
    private RunSpec? spec;
    private TrainingMeters.RunLabels? labels;

    public async Task Prepare(RunSpec spec)
    {
        var config = RunSpecs.Config(spec);
        var (runId, _) = GetCompoundKey();
        var (_, corpus) = data.Load(config.Data);
        ReleaseReplica();
        var training = config.TrainingOrDefault;
        if (gpu is null && gpus.Count > 0 && TrainingDevices.Parse(training.Device)?.Type != DeviceType.Cpu) gpu = gpus.Claim();
        Device device;
        try
        {
            device = TrainingDevices.Prepare(training, gpu);
        }
        catch (ConfigException e)
        {
            DeactivateOnIdle();  // a replica that cannot run here gives its silo's device back at once
            throw new ArgumentException($"spec.config: {e.Message}", nameof(spec), e);
        }
        model = TrainingRun.BuildModel(config, corpus.VocabularySize, device);
        var layout = ParameterLayout.Of(model);
        validation = TrainingRun.BatchSources(config, corpus).Validation;
        replica = new DataParallelReplica(model, layout, layout.Split(spec.ParameterServers), training.Precision);
        shards = [.. Enumerable.Range(0, spec.ParameterServers).Select(k => GrainFactory.GetGrain<IParameterServerGrain>(runId, k))];
        dataShards = [.. Enumerable.Range(0, spec.Workers).Select(p => GrainFactory.GetGrain<IDataShardGrain>(runId, p))];
        this.spec = spec;
        labels = RunSpecs.Labels(runId, spec);
        preparedParts.Clear();
        // Rank r's own part first, so its data shard is placed on this silo (prefer-local) and the shards spread
        // over the workers' silos: losing one silo then loses one part's shard, not all of them.
        var (_, rank) = GetCompoundKey();
        if (rank < spec.Workers) await PreparePartAsync((int)rank);
    }

    public async Task<WorkerStepResult> Step(long step, long attempt, int[] parts)
    {
        // A worker re-activated after its silo was lost has no data shards yet: say so, not that the parts are wrong.
        if (replica is null) throw NotPrepared();
        if (parts.Length == 0 || parts.Any(p => p < 0 || p >= dataShards.Count))
            throw new ArgumentOutOfRangeException(nameof(parts), $"parts must name some of the run's {dataShards.Count} batch parts, got [{string.Join(", ", parts)}]");
        var clock = Stopwatch.StartNew();
        var prepared = await PullAsync();
        var pulled = clock.Elapsed;
        var batches = await Task.WhenAll(parts.Select(p => BatchAsync(p, step)));
        var drawn = clock.Elapsed;
        var gradients = ReplicaGradients.Combine([.. parts.Select((part, i) => prepared.ComputeGradients(step, part, batches[i]))]);
        var computed = clock.Elapsed;
        await Task.WhenAll(shards.Select((shard, k) => shard.Push(step, attempt, gradients.Slices[k], gradients.Tokens)));
        var timings = new StepTimings(
            Pull: pulled.TotalSeconds, Data: (drawn - pulled).TotalSeconds, Forward: gradients.Forward.TotalSeconds,
            Backward: gradients.Backward.TotalSeconds, Push: (clock.Elapsed - computed).TotalSeconds, Aggregate: 0);
        TrainingMeters.WorkerStepped(labels!, GetCompoundKey().Index, timings);
        return new WorkerStepResult(gradients.Loss, gradients.Tokens, timings);
    }

    public async Task<double> Evaluate(int batches)
    {
        var prepared = await PullAsync();
        return prepared.Evaluate(validation!, batches);
    }

    public Task Release()
    {
        // Deactivating drops the replica (OnDeactivateAsync) and gives the device back.
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        ReleaseReplica();
        if (gpu is { } held) gpus.Release(held);
        gpu = null;
        return Task.CompletedTask;
    }

    private async Task<DataParallelReplica> PullAsync()
    {
        var prepared = replica ?? throw NotPrepared();
        var values = await Task.WhenAll(shards.Select(shard => shard.Pull()));
        for (var k = 0; k < values.Length; k++)
            prepared.LoadShard(k, values[k]);
        return prepared;
    }

    /// <summary>
    /// Part <paramref name="part"/> of batch <paramref name="step"/>: a part that moved here is prepared on first use, and
    /// one whose shard came back empty (its silo was lost and it activated again) is prepared again.
    /// </summary>
    private async Task<BatchTokens> BatchAsync(int part, long step)
    {
        if (!preparedParts.Contains(part)) await PreparePartAsync(part);
        try
        {
            return await dataShards[part].Batch(step);
        }
        catch (InvalidOperationException)
        {
            await PreparePartAsync(part);
            return await dataShards[part].Batch(step);
        }
    }

    private async Task PreparePartAsync(int part)
    {
        await dataShards[part].Prepare(spec!);
        preparedParts.Add(part);
    }

    private InvalidOperationException NotPrepared() => new($"worker {GetCompoundKey()} was not prepared for a run");

    private void ReleaseReplica()
    {
        replica?.Dispose();
        model?.Dispose();
        (replica, model) = (null, null);
    }
}
