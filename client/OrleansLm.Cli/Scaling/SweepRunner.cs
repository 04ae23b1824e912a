using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;

namespace OrleansLm.Cli.Scaling;

/// <summary>
/// Runs a sweep's points on the cluster through the gateway, a few at a time, and records each in sweep.json as it
/// ends. A point recorded as completed is skipped; a point whose run exists on the cluster is followed (resumed first
/// when it is paused, stopped or failed) rather than started again. A point that fails is recorded with its error and
/// the sweep goes on; failures no point could escape (the gateway unreachable, the token refused, Ctrl+C) end it.
/// </summary>
internal sealed class SweepRunner(GatewaySession session, SweepConfig sweep, IReadOnlyList<PlannedRun> runs, string filePath, ISweepProgress progress)
{
    private readonly SemaphoreSlim recording = new(1, 1);
    private readonly List<SweepPoint> ended = [];
    private SweepFile file = new(sweep.Name, []);

    /// <returns>The points that ended now (the skipped ones not among them).</returns>
    public async Task<IReadOnlyList<SweepPoint>> RunAsync(int parallel, CancellationToken cancellation)
    {
        file = SweepFile.Load(filePath) ?? file;
        var pending = new List<PlannedRun>();
        foreach (var run in runs)
        {
            if (file.Points.FirstOrDefault(p => p.RunId == run.RunId) is { IsCompleted: true } recorded) progress.Skipped(run, recorded);
            else pending.Add(run);
        }
        try
        {
            await Parallel.ForEachAsync(pending, new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellation }, RunAndRecordAsync);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            // Ctrl+C between two calls: reported as one it interrupted is.
            throw new RpcException(StatusCode.Cancelled, $"the sweep was cancelled; {filePath} holds the points that ended, and running it again goes on");
        }
        return ended;
    }

    private async ValueTask RunAndRecordAsync(PlannedRun run, CancellationToken cancellation)
    {
        var point = await RunPointAsync(run, cancellation);
        await recording.WaitAsync(CancellationToken.None);
        try
        {
            file = file.With(point, runs);
            file.Save(filePath);
            ended.Add(point);
        }
        finally
        {
            recording.Release();
        }
        progress.Finished(run, point);
    }

    private async Task<SweepPoint> RunPointAsync(PlannedRun run, CancellationToken cancellation)
    {
        try
        {
            var (how, conflict) = await StartOrFindAsync(run, cancellation);
            if (conflict is not null) return Failed(run, conflict);
            progress.Started(run, how);
            await FollowAsync(run, cancellation);
            var final = await session.Training.GetRunAsync(new GetRunRequest { RunId = run.RunId }, session.CallTimeout, cancellation);
            return Record(run, final);
        }
        catch (RpcException e) when (e.Status is not (StatusCode.Unavailable or StatusCode.Unauthenticated or StatusCode.PermissionDenied or StatusCode.Cancelled))
        {
            return Failed(run, $"{GrpcProtocol.StatusName(e.Status)}: {e.Detail}");
        }
    }

    /// <returns>How the point's run got under way, or why it cannot be this point's run.</returns>
    private async Task<(string How, string? Conflict)> StartOrFindAsync(PlannedRun run, CancellationToken cancellation)
    {
        Run existing;
        try
        {
            existing = await session.Training.GetRunAsync(new GetRunRequest { RunId = run.RunId }, session.CallTimeout, cancellation);
        }
        catch (RpcException e) when (e.Status == StatusCode.NotFound)
        {
            await session.Training.StartRunAsync(new StartRunRequest
            {
                RunId = run.RunId, Config = run.Config, Workers = sweep.Workers, ParameterServers = sweep.ParameterServers,
            }, session.CallTimeout, cancellation);
            return ("started", null);
        }
        if (existing.TotalSteps != run.Steps)
            return ("", $"run {run.RunId} exists on the cluster with {existing.TotalSteps} steps, not the sweep's {run.Steps}; rename the sweep to start fresh runs");
        switch (existing.State)
        {
            case RunState.Paused or RunState.Stopped or RunState.Failed:
                await session.Training.ResumeRunAsync(new ResumeRunRequest { RunId = run.RunId }, session.CallTimeout, cancellation);
                return ($"resumed the run on the cluster, which was {Cli.Name(existing.State)} at step {existing.Step}", null);
            case RunState.Completed:
                return ("found the run completed on the cluster", null);
            default:
                return ($"following the run already on the cluster at step {existing.Step}", null);
        }
    }

    /// <summary>Reports the run's steps and evaluations until it ends (the stream ends then).</summary>
    private async Task FollowAsync(PlannedRun run, CancellationToken cancellation)
    {
        var events = session.Training.WatchRunAsync(new WatchRunRequest { RunId = run.RunId, FromStep = -1 }, session.LongCallTimeout, cancellation);
        await foreach (var update in events)
        {
            switch (update.EventCase)
            {
                case RunEvent.EventOneofCase.Status:
                    progress.Stepped(run, update.Status.Step, update.Status.TotalSteps, update.Status.Loss);
                    break;
                case RunEvent.EventOneofCase.Step:
                    progress.Stepped(run, update.Step.Step, update.Step.TotalSteps, update.Step.Loss);
                    break;
                case RunEvent.EventOneofCase.Evaluation:
                    progress.Evaluated(run, update.Evaluation.Step, update.Evaluation.ValidationLoss);
                    break;
            }
        }
    }

    private static SweepPoint Record(PlannedRun run, Run final)
    {
        var state = Cli.Name(final.State);
        // A completed run's last evaluation follows its last step; a run that ended otherwise may have none there.
        double? finalLoss = final.Evaluations.LastOrDefault(e => e.Step == final.Step)?.ValidationLoss;
        var error = final.State == RunState.Completed ? null
            : final.Error.Length > 0 ? final.Error
            : RunView.HasEnded(final.State) ? $"the run ended {state} at step {final.Step}"
            : $"the watch ended while the run was {state} at step {final.Step}";
        return new SweepPoint(run.RunId, run.Model, run.Steps, final.Parameters, final.Tokens, final.FlopsPerToken,
            final.FlopsPerToken * final.Tokens, finalLoss is { } loss && double.IsFinite(loss) ? loss : null, state, error);
    }

    private static SweepPoint Failed(PlannedRun run, string error) =>
        new(run.RunId, run.Model, run.Steps, 0, 0, 0, 0, null, Cli.Name(RunState.Failed), error);
}
