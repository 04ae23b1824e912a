using System.Diagnostics;
using System.Runtime.CompilerServices;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary>
/// Follows a run's WatchRun stream until the run ends: a live progress bar, or one JSON line per event. A gateway that
/// goes away (UNAVAILABLE: its silo stopping in a rolling restart) is called again, from the step after the last one
/// seen, for up to <see cref="OutageLimit"/> (behind a Kubernetes Service, the next call reaches another silo).
/// </summary>
internal static class RunWatch
{
    public static readonly TimeSpan OutageLimit = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromSeconds(1);

    /// <returns>The exit code of the state the run ended in (<see cref="ExitCodes.For(RunState)"/>).</returns>
    public static async Task<int> FollowAsync(GatewaySession session, string runId, long fromStep, CancellationToken cancellation)
    {
        var events = ReconnectingAsync(session, runId, fromStep, cancellation);
        var run = session.Json ? await WriteLinesAsync(events) : await ShowProgressAsync(runId, events);
        if (run is null || !RunView.HasEnded(run.State))
        {
            Cli.Error($"the watch of run {runId} ended while the run was {(run is null ? "not yet reported" : Cli.Name(run.State))}", session.Json);
            return ExitCodes.Failed;
        }
        if (!session.Json)
        {
            AnsiConsole.MarkupLine($"run {Markup.Escape(runId)} {RunView.State(run.State)}: {RunView.Summary(run)}");
            RunView.Errors([run]);
        }
        return ExitCodes.For(run.State);
    }

    private static async IAsyncEnumerable<RunEvent> ReconnectingAsync(
        GatewaySession session, string runId, long fromStep, [EnumeratorCancellation] CancellationToken cancellation)
    {
        var outage = new Stopwatch();
        while (true)
        {
            var stream = session.Training.WatchRunAsync(new WatchRunRequest { RunId = runId, FromStep = fromStep }, session.LongCallTimeout, cancellation)
                .GetAsyncEnumerator(cancellation);
            try
            {
                while (true)
                {
                    try
                    {
                        if (!await stream.MoveNextAsync()) yield break;
                    }
                    catch (RpcException e) when (e.Status == StatusCode.Unavailable && (!outage.IsRunning || outage.Elapsed < OutageLimit))
                    {
                        outage.Start();
                        Console.Error.WriteLine($"olm: watching run {runId}: {e.Detail}; calling the gateway again");
                        break;
                    }
                    outage.Reset();
                    // Steps are numbered from 1; from_step k replays from step k + 1.
                    if (stream.Current.EventCase == RunEvent.EventOneofCase.Step) fromStep = stream.Current.Step.Step;
                    yield return stream.Current;
                }
            }
            finally
            {
                await stream.DisposeAsync();
            }
            await Task.Delay(RetryDelay, cancellation);
        }
    }

    private static async Task<Run?> WriteLinesAsync(IAsyncEnumerable<RunEvent> events)
    {
        Run? run = null;
        await foreach (var update in events)
        {
            run = Apply(run, update);
            var payload = update.EventCase switch
            {
                RunEvent.EventOneofCase.Status => update.Status,
                RunEvent.EventOneofCase.Step => update.Step,
                RunEvent.EventOneofCase.Evaluation => (Google.Protobuf.IMessage)update.Evaluation,
                _ => null,
            };
            if (payload is not null) JsonLines.Write(payload, ("event", Cli.Name(update.EventCase)));
        }
        return run;
    }

    private static async Task<Run?> ShowProgressAsync(string runId, IAsyncEnumerable<RunEvent> events)
    {
        Run? run = null;
        var eta = new EtaEstimate();
        await AnsiConsole.Progress()
            .AutoClear(false)
            .Columns(new ProgressBarColumn(), new PercentageColumn(), new TaskDescriptionColumn { Alignment = Justify.Left })
            .StartAsync(async context =>
            {
                var bar = context.AddTask(Markup.Escape(runId), maxValue: 1);
                await foreach (var update in events)
                {
                    var previous = run?.State;
                    run = Apply(run, update);
                    switch (update.EventCase)
                    {
                        // The end is reported once, after the bar.
                        case RunEvent.EventOneofCase.Status when run.State != previous && !RunView.HasEnded(run.State):
                            AnsiConsole.MarkupLine($"run {Markup.Escape(runId)}: {RunView.State(run.State)} at step {run.Step}/{run.TotalSteps}");
                            break;
                        case RunEvent.EventOneofCase.Step:
                            eta.Observe(run.Step);
                            break;
                        case RunEvent.EventOneofCase.Evaluation:
                            AnsiConsole.MarkupLineInterpolated(
                                $"step {update.Evaluation.Step}: validation loss {update.Evaluation.ValidationLoss:F4} (perplexity {update.Evaluation.ValidationPerplexity:F2})");
                            break;
                    }
                    bar.MaxValue = Math.Max(1, run.TotalSteps);
                    bar.Value = run.Step;
                    bar.Description = RunView.Progress(run, eta.Seconds(run));
                }
                bar.StopTask();
            });
        return run;
    }

    /// <summary>The run as of <paramref name="update"/>: a status replaces it, steps and evaluations update their fields.</summary>
    private static Run Apply(Run? run, RunEvent update)
    {
        if (update.EventCase == RunEvent.EventOneofCase.Status) return update.Status.Clone();
        run ??= new Run { ValidationLoss = double.NaN, ValidationPerplexity = double.NaN, EtaSeconds = -1, CheckpointStep = -1 };
        switch (update.EventCase)
        {
            case RunEvent.EventOneofCase.Step:
                run.Step = update.Step.Step;
                run.TotalSteps = update.Step.TotalSteps;
                run.Loss = update.Step.Loss;
                run.TokensPerSecond = update.Step.TokensPerSecond;
                break;
            case RunEvent.EventOneofCase.Evaluation:
                run.ValidationLoss = update.Evaluation.ValidationLoss;
                run.ValidationPerplexity = update.Evaluation.ValidationPerplexity;
                break;
        }
        return run;
    }

    /// <summary>Remaining time at the pace of the steps seen in the last half minute; the gateway's estimate until there are two.</summary>
    private sealed class EtaEstimate
    {
        private static readonly TimeSpan Window = TimeSpan.FromSeconds(30);
        private readonly Queue<(TimeSpan At, long Step)> recent = new();
        private readonly Stopwatch clock = Stopwatch.StartNew();
        private (TimeSpan At, long Step) latest;

        public void Observe(long step)
        {
            latest = (clock.Elapsed, step);
            recent.Enqueue(latest);
            while (recent.Count > 2 && latest.At - recent.Peek().At > Window) recent.Dequeue();
        }

        public double? Seconds(Run run)
        {
            if (recent.Count >= 2)
            {
                var (firstAt, firstStep) = recent.Peek();
                var (lastAt, lastStep) = latest;
                if (lastStep > firstStep && lastAt > firstAt)
                    return (run.TotalSteps - run.Step) * (lastAt - firstAt).TotalSeconds / (lastStep - firstStep);
            }
            return run.EtaSeconds >= 0 ? run.EtaSeconds : null;
        }
    }
}
