namespace OrleansLm.Cli.Scaling;

/// <summary>What a sweep shows as it goes: a live display, plain lines, or JSON lines. Called from several points at once under --parallel.</summary>
public interface ISweepProgress
{
    /// <summary>The point is recorded as completed in sweep.json already.</summary>
    void Skipped(PlannedRun run, SweepPoint recorded);

    /// <summary>The point's run is under way; <paramref name="how"/> says whether it was started, followed or resumed.</summary>
    void Started(PlannedRun run, string how);

    void Stepped(PlannedRun run, long step, long totalSteps, double loss);

    void Evaluated(PlannedRun run, long step, double validationLoss);

    /// <summary>The point has ended and is recorded.</summary>
    void Finished(PlannedRun run, SweepPoint point);
}
