namespace OrleansLm.Cli.Scaling;

/// <summary>Plain lines, for output that goes to a file or a pipe: each point's start, every tenth of its steps, its evaluations and its end.</summary>
internal sealed class LineSweepProgress(IReadOnlyList<PlannedRun> runs) : ISweepProgress
{
    private const int Reports = 10;
    private readonly Lock writing = new();
    private readonly Dictionary<string, long> reportedStep = [];

    public void Skipped(PlannedRun run, SweepPoint recorded) => Write(run, $"skipped, recorded as {SweepText.Outcome(recorded)}");

    public void Started(PlannedRun run, string how) => Write(run, how);

    public void Stepped(PlannedRun run, long step, long totalSteps, double loss)
    {
        lock (writing)
        {
            var every = Math.Max(1, totalSteps / Reports);
            if (step / every == reportedStep.GetValueOrDefault(run.RunId, -1) / every) return;
            reportedStep[run.RunId] = step;
        }
        Write(run, $"step {step}/{totalSteps}, loss {SweepText.Loss(loss)}");
    }

    public void Evaluated(PlannedRun run, long step, double validationLoss) => Write(run, $"step {step}: validation loss {SweepText.Loss(validationLoss)}");

    public void Finished(PlannedRun run, SweepPoint point) => Write(run, SweepText.Outcome(point));

    private void Write(PlannedRun run, string text)
    {
        lock (writing) Console.WriteLine($"{SweepText.Position(runs, run)}: {text}");
    }
}
