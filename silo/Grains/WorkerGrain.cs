using OrleansLm.Model.Models;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// A model replica holding one of its silo's devices: each step it pulls every parameter shard, computes the gradient
/// of its part of the batch (<see cref="DataParallelReplica"/>) and pushes each slice to the shard that owns it.
/// </summary>
[SiloRoleConstraint(SiloGrains.WorkerRole, RequiresDevice = true)]
public sealed class WorkerGrain(RunData data) : Grain, IWorkerGrain
{
    private ILanguageModel? model;
    private DataParallelReplica? replica;
    private IBatchSource? validation;
    private IReadOnlyList<IParameterServerGrain> shards = [];

    public Task Prepare(RunSpec spec)
    {
        var config = RunSpecs.Config(spec);
        var (runId, _) = GetCompoundKey();
        var (_, corpus) = data.Load(config.Data);
        ReleaseReplica();
        lock (RunData.ModelBuilding)
            model = TrainingRun.BuildModel(config, corpus.VocabularySize);
        var layout = ParameterLayout.Of(model);
        var (train, validationBatches) = TrainingRun.BatchSources(config, corpus);
        validation = validationBatches;
        replica = new DataParallelReplica(model, train, layout, layout.Split(spec.ParameterServers));
        shards = [.. Enumerable.Range(0, spec.ParameterServers).Select(k => GrainFactory.GetGrain<IParameterServerGrain>(runId, k))];
        return Task.CompletedTask;
    }

    public async Task<WorkerStepResult> Step(long step, int rank, int workers)
    {
        var prepared = await PullAsync();
        var gradients = prepared.ComputeGradients(step, rank, workers);
        await Task.WhenAll(shards.Select((shard, k) => shard.Push(step, gradients.Slices[k], gradients.Tokens)));
        return new WorkerStepResult(gradients.Loss, gradients.Tokens);
    }

    public async Task<double> Evaluate(int batches)
    {
        var prepared = await PullAsync();
        return prepared.Evaluate(validation!, batches);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        ReleaseReplica();
        return Task.CompletedTask;
    }

    private async Task<DataParallelReplica> PullAsync()
    {
        var prepared = replica ?? throw new InvalidOperationException($"worker {GetCompoundKey()} was not prepared for a run");
        var values = await Task.WhenAll(shards.Select(shard => shard.Pull()));
        for (var k = 0; k < values.Length; k++)
            prepared.LoadShard(k, values[k]);
        return prepared;
    }

    private void ReleaseReplica()
    {
        replica?.Dispose();
        model?.Dispose();
        (replica, model) = (null, null);
    }
}
