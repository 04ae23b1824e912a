using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Grains;
using OrleansLm.Silo.Grains;

namespace OrleansLm.Silo.Runs;

/// <summary>
/// What a leaving silo does before its activations go (<see cref="ClusterSiloOptions.BeforeDeactivation"/>): every
/// unfinished run whose coordinator or parameter-server shard is here writes a checkpoint of its current step, so the
/// run continues elsewhere (its coordinator through a <see cref="RunWatchdog"/>, its shards restored by the coordinator)
/// with at most the steps taken meanwhile to do again. A run with only workers here needs nothing: its coordinator
/// drops them and their parts go to the others.
/// </summary>
public sealed class RunHandOff(RunStorage storage, ILogger<RunHandOff> logger)
{
    public async Task HandOffAsync(ClusterSilo silo, CancellationToken cancellation)
    {
        var coordinator = GrainId.TypeNameOf(typeof(ITrainingRunGrain));
        var shard = GrainId.TypeNameOf(typeof(IParameterServerGrain));
        var holders = silo.Runtime.RegisteredGrains()
            .Select(grain => grain.Type == coordinator ? grain.GetStringKey() : grain.Type == shard ? grain.GetCompoundKey().Key : null)
            .OfType<string>()
            .ToHashSet(StringComparer.Ordinal);
        if (holders.Count == 0) return;
        var runs = (await storage.Store.UnfinishedAsync(cancellation)).Where(run => holders.Contains(run.RunId)).ToArray();
        await Task.WhenAll(runs.Select(run => CheckpointAsync(silo, run.RunId, cancellation)));
    }

    private async Task CheckpointAsync(ClusterSilo silo, string runId, CancellationToken cancellation)
    {
        try
        {
            var step = await silo.GrainFactory.GetGrain<ITrainingRunGrain>(runId).Checkpoint().WaitAsync(cancellation);
            logger.LogInformation("run {Run} handed off: its newest checkpoint is of step {Step}", runId, step);
        }
        catch (Exception e) when (!cancellation.IsCancellationRequested)
        {
            // The run continues from its previous checkpoint instead.
            logger.LogWarning(e, "run {Run} could not checkpoint before this silo left", runId);
        }
    }
}
