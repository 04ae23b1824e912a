using System.Text.Json;
using System.Text.Json.Nodes;

namespace OrleansLm.Cli.Scaling;

/// <summary>--json: one object per line for each point's start, evaluations and end (the end carries the point as sweep.json records it).</summary>
internal sealed class JsonSweepProgress : ISweepProgress
{
    private static readonly JsonSerializerOptions Options = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private readonly Lock writing = new();

    public void Skipped(PlannedRun run, SweepPoint recorded) => Write(Event("skipped", recorded));

    public void Started(PlannedRun run, string how) => Write(new JsonObject { ["event"] = "started", ["run_id"] = run.RunId, ["how"] = how });

    // Every step would flood a pipe; the evaluations and the end say what a script needs.
    public void Stepped(PlannedRun run, long step, long totalSteps, double loss)
    {
    }

    public void Evaluated(PlannedRun run, long step, double validationLoss) => Write(new JsonObject
    {
        ["event"] = "evaluation", ["run_id"] = run.RunId, ["step"] = step, ["validation_loss"] = double.IsFinite(validationLoss) ? validationLoss : null,
    });

    public void Finished(PlannedRun run, SweepPoint point) => Write(Event("point", point));

    private static JsonObject Event(string name, SweepPoint point)
    {
        var line = JsonSerializer.SerializeToNode(point, Options)!.AsObject();
        line.Insert(0, "event", name);
        return line;
    }

    private void Write(JsonObject line)
    {
        lock (writing) JsonLines.Write(line);
    }
}
