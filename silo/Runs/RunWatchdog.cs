using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Hosting;

namespace OrleansLm.Silo.Runs;

/// <summary>
/// Keeps every unfinished run coordinated: every <see cref="Period"/> (and once at start) it calls each run the store
/// holds as running or paused. A run whose coordinator is alive just answers; one whose coordinator was lost (its silo
/// died, or the whole cluster restarted) is activated here and continues from its newest checkpoint.
/// </summary>
public sealed class RunWatchdog(ClusterHost cluster, RunStorage storage, ILogger<RunWatchdog> logger) : BackgroundService
{
    public static TimeSpan Period { get; } = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Period);
        do
        {
            try
            {
                foreach (var run in await storage.Store.UnfinishedAsync(stoppingToken))
                    await WakeAsync(run, stoppingToken);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(e, "could not read the unfinished runs; trying again in {Period}", Period);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    private async Task WakeAsync(RunRecord run, CancellationToken stoppingToken)
    {
        try
        {
            var status = await cluster.Silo.GrainFactory.GetGrain<ITrainingRunGrain>(run.RunId).Status().WaitAsync(stoppingToken);
            logger.LogDebug("run {Run}: {State} at step {Step}", run.RunId, status.State, status.Step);
        }
        catch (Exception e) when (!stoppingToken.IsCancellationRequested)
        {
            // Its coordinator's silo may not be declared dead yet; the next round tries again.
            logger.LogInformation("run {Run} did not answer: {Reason}", run.RunId, e.Message);
        }
    }
}
