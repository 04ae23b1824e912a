using Spectre.Console;

namespace OrleansLm.Cli.Scaling;

/// <summary>A live display in a terminal: one progress bar per point, with its step, loss and latest validation loss.</summary>
internal sealed class LiveSweepProgress : ISweepProgress
{
    private readonly IReadOnlyList<PlannedRun> runs;
    private readonly Dictionary<string, ProgressTask> bars;
    private readonly Dictionary<string, double> validationLosses = [];
    private readonly Lock updating = new();

    public LiveSweepProgress(ProgressContext context, IReadOnlyList<PlannedRun> runs)
    {
        this.runs = runs;
        bars = runs.ToDictionary(run => run.RunId, run => context.AddTask(Describe(run, "waiting"), autoStart: false, maxValue: run.Steps));
    }

    public void Skipped(PlannedRun run, SweepPoint recorded) => End(run, recorded, "recorded");

    public void Started(PlannedRun run, string how)
    {
        lock (updating)
        {
            bars[run.RunId].StartTask();
            bars[run.RunId].Description = Describe(run, Markup.Escape(how));
        }
    }

    public void Stepped(PlannedRun run, long step, long totalSteps, double loss)
    {
        lock (updating)
        {
            var bar = bars[run.RunId];
            bar.MaxValue = Math.Max(1, totalSteps);
            bar.Value = step;
            var validation = validationLosses.TryGetValue(run.RunId, out var latest) ? $"  val {SweepText.Loss(latest)}" : "";
            bar.Description = Describe(run, $"step {step}/{totalSteps}  loss {SweepText.Loss(loss)}{validation}");
        }
    }

    public void Evaluated(PlannedRun run, long step, double validationLoss)
    {
        lock (updating) validationLosses[run.RunId] = validationLoss;
    }

    public void Finished(PlannedRun run, SweepPoint point) => End(run, point, point.IsCompleted ? "completed" : $"[red]{Markup.Escape(point.State)}[/]");

    private void End(PlannedRun run, SweepPoint point, string how)
    {
        lock (updating)
        {
            var bar = bars[run.RunId];
            bar.Value = point.IsCompleted ? bar.MaxValue : bar.Value;
            bar.Description = Describe(run, point.IsCompleted
                ? $"{how}: N {point.Parameters:N0}  D {point.Tokens:N0}  C {SweepText.Scientific(point.Compute)}  val {SweepText.Loss(point.FinalValidationLoss)}"
                : $"{how}: {Markup.Escape(point.Error ?? "")}");
            bar.StopTask();
        }
    }

    private string Describe(PlannedRun run, string status) => $"{Markup.Escape(SweepText.Position(runs, run))}  {status}";
}
