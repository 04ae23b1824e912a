using System.Globalization;

namespace OrleansLm.Cli.Scaling;

/// <summary>How the sweep commands write points and numbers for people.</summary>
internal static class SweepText
{
    /// <summary>"[2/6] name-d32-400": which point of how many.</summary>
    public static string Position(IReadOnlyList<PlannedRun> runs, PlannedRun run) =>
        $"[{runs.ToList().FindIndex(r => r.RunId == run.RunId) + 1}/{runs.Count}] {run.RunId}";

    /// <summary>What a finished point measured, or why it failed.</summary>
    public static string Outcome(SweepPoint point) => point.IsCompleted
        ? $"completed: N = {point.Parameters:N0}, D = {point.Tokens:N0} tokens, C = {Scientific(point.Compute)} FLOPs, validation loss {Loss(point.FinalValidationLoss)}"
        : $"{point.State}: {point.Error}";

    /// <summary>3.10e13.</summary>
    public static string Scientific(double value) => value.ToString("0.00e0", CultureInfo.InvariantCulture);

    public static string Loss(double? loss) => loss is { } value && double.IsFinite(value) ? value.ToString("F4", CultureInfo.InvariantCulture) : "-";
}
