using System.CommandLine;
using System.Text.Json.Nodes;
using OrleansLm.Model.Training;
using Spectre.Console;

namespace OrleansLm.Cli.Scaling;

/// <summary><c>olm sweep</c>: runs a sweep.yaml's grid of runs on the cluster and records each point in sweep.json.</summary>
public static class SweepCommand
{
    public static Command Create()
    {
        var gateway = new GatewayOptions();
        var config = new Option<FileInfo>("--config") { Description = "sweep.yaml: the base run, the models and the step budgets", Required = true };
        var output = new Option<DirectoryInfo?>("--out") { Description = "directory for sweep.json [default: ./<the sweep's name>]" };
        var parallel = new Option<int>("--parallel") { Description = "points to run at once", DefaultValueFactory = _ => 1 };
        var command = new Command("sweep",
            "Train a family of runs over model sizes and token budgets on the cluster, recording N, D, C and the final validation loss of each "
            + "in sweep.json; a re-run skips the points recorded as completed. Exit code 0 when every point completed, 8 when one failed")
        {
            config, output, parallel,
        };
        gateway.AddTo(command);
        command.SetAction(async (parse, cancellation) =>
        {
            var json = parse.GetValue(gateway.Json);
            var file = parse.GetValue(config)!;
            if (!file.Exists) return Cli.Fail($"--config: {file.FullName} does not exist", json);
            if (parse.GetValue(parallel) < 1) return Cli.Fail("--parallel: must be at least 1", json);
            SweepConfig sweep;
            IReadOnlyList<PlannedRun> runs;
            try
            {
                (sweep, runs) = SweepConfig.Load(file.FullName);
            }
            catch (ConfigException e)
            {
                return Cli.Fail(e.Message, json);
            }
            var directory = parse.GetValue(output)?.FullName ?? Path.GetFullPath(sweep.Name);
            var path = Path.Combine(directory, SweepFile.FileName);
            try
            {
                Directory.CreateDirectory(directory);
                SweepFile.Load(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                return Cli.Fail($"--out: {e.Message}", json);
            }
            return await gateway.RunAsync(parse, session => RunAsync(session, sweep, runs, path, parse.GetValue(parallel), cancellation));
        });
        return command;
    }

    private static async Task<int> RunAsync(
        GatewaySession session, SweepConfig sweep, IReadOnlyList<PlannedRun> runs, string path, int parallel, CancellationToken cancellation)
    {
        Task<IReadOnlyList<SweepPoint>> Sweep(ISweepProgress progress) => new SweepRunner(session, sweep, runs, path, progress).RunAsync(parallel, cancellation);
        var heading = $"sweep {sweep.Name}: {runs.Count} points, {parallel} at a time, recorded in {path}";
        IReadOnlyList<SweepPoint> ended;
        if (session.Json)
        {
            ended = await Sweep(new JsonSweepProgress());
        }
        else if (Console.IsOutputRedirected)
        {
            Console.WriteLine(heading);
            ended = await Sweep(new LineSweepProgress(runs));
        }
        else
        {
            AnsiConsole.WriteLine(heading);
            ended = await AnsiConsole.Progress()
                .AutoClear(false)
                .Columns(new ProgressBarColumn(), new PercentageColumn(), new TaskDescriptionColumn { Alignment = Justify.Left })
                .StartAsync(context => Sweep(new LiveSweepProgress(context, runs)));
        }

        var failed = ended.Count(point => !point.IsCompleted);
        var summary = $"sweep {sweep.Name}: {ended.Count - failed} points completed now, {runs.Count - ended.Count} already recorded, {failed} failed; {path}";
        if (session.Json) JsonLines.Write(new JsonObject
        {
            ["event"] = "done", ["completed"] = ended.Count - failed, ["skipped"] = runs.Count - ended.Count, ["failed"] = failed, ["sweep"] = path,
        });
        else if (failed > 0) Cli.Error(summary, json: false);
        else Console.WriteLine(summary);
        return failed > 0 ? ExitCodes.RunFailed : ExitCodes.Ok;
    }
}
