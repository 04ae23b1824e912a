using System.Globalization;
using OrleansLm.Protos.V1;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary>How runs look in the terminal: tables, coloured states, progress lines.</summary>
internal static class RunView
{
    public static Table Table(IEnumerable<Run> runs)
    {
        var table = new Table().AddColumns("run", "state", "model", "step", "loss", "val loss", "tok/s", "workers", "ETA");
        foreach (var run in runs)
            table.AddRow(Markup.Escape(run.RunId), State(run.State), Markup.Escape(run.ModelFamily), $"{run.Step}/{run.TotalSteps}",
                run.Step > 0 ? Number(run.Loss) : "-", Number(run.ValidationLoss), $"{run.TokensPerSecond:N0}",
                $"{run.Workers}/{run.RequestedWorkers}", Eta(run.EtaSeconds));
        return table;
    }

    /// <summary>Whether a run in <paramref name="state"/> is over (it may still be resumed).</summary>
    public static bool HasEnded(RunState state) => state is RunState.Completed or RunState.Failed or RunState.Stopped;

    /// <summary>Prints the errors of <paramref name="runs"/> under their table.</summary>
    public static void Errors(IEnumerable<Run> runs)
    {
        foreach (var run in runs.Where(r => r.Error.Length > 0))
            AnsiConsole.MarkupLineInterpolated($"[{(run.State == RunState.Failed ? "red" : "yellow")}]{run.RunId}[/]: {run.Error}");
    }

    /// <summary>The state, coloured (markup).</summary>
    public static string State(RunState state) => $"[{Colour(state)}]{Cli.Name(state)}[/]";

    /// <summary>One line (markup) for a run in progress: step, losses, speed, remaining time, workers.</summary>
    public static string Progress(Run run, double? etaSeconds)
    {
        var parts = new List<string> { $"step {run.Step}/{run.TotalSteps}" };
        if (run.Step > 0) parts.Add($"loss {Number(run.Loss)}");
        if (double.IsFinite(run.ValidationLoss)) parts.Add($"val {Number(run.ValidationLoss)}");
        parts.Add($"{run.TokensPerSecond:N0} tok/s");
        parts.Add($"ETA {Eta(etaSeconds ?? -1)}");
        parts.Add($"workers {run.Workers}/{run.RequestedWorkers}");
        if (run.State != RunState.Running) parts.Add(State(run.State));
        return string.Join("  ", parts);
    }

    /// <summary>Where a run stands (markup): its step and losses.</summary>
    public static string Summary(Run run) =>
        $"step {run.Step}/{run.TotalSteps}, loss {(run.Step > 0 ? Number(run.Loss) : "-")}, validation loss {Number(run.ValidationLoss)}"
        + (double.IsFinite(run.ValidationPerplexity) && run.ValidationPerplexity > 0 ? $" (perplexity {run.ValidationPerplexity.ToString("F2", CultureInfo.InvariantCulture)})" : "");

    /// <summary>Seconds as 45s, 12m05s or 3h04m; "-" when unknown (negative).</summary>
    public static string Eta(double seconds)
    {
        if (!(seconds >= 0) || double.IsInfinity(seconds)) return "-";
        var time = TimeSpan.FromSeconds(Math.Round(seconds));
        return time.TotalHours >= 1 ? $"{(int)time.TotalHours}h{time.Minutes:00}m"
            : time.TotalMinutes >= 1 ? $"{time.Minutes}m{time.Seconds:00}s"
            : $"{time.Seconds}s";
    }

    private static string Number(double value) => double.IsFinite(value) ? value.ToString("F3", CultureInfo.InvariantCulture) : "-";

    private static string Colour(RunState state) => state switch
    {
        RunState.Running => "green",
        RunState.Paused => "yellow",
        RunState.Completed => "blue",
        RunState.Failed => "red",
        _ => "grey",
    };
}
