using System.CommandLine;
using OrleansLm.Client;
using OrleansLm.Protos.V1;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary><c>olm run</c>: starts, watches and controls training runs on the cluster through the gateway (admin token).</summary>
public static class RunCommand
{
    private delegate Task<Run> Control(TrainingClient training, string runId, TimeSpan timeout, CancellationToken cancellation);

    public static Command Create()
    {
        var gateway = new GatewayOptions();
        var command = new Command("run", "Start, watch and control training runs on the cluster (needs the admin token)")
        {
            Start(gateway),
            Status(gateway),
            Watch(gateway),
            ControlCommand(gateway, "pause", "Pause a running run after its step in flight",
                (training, id, timeout, cancellation) => training.PauseRunAsync(new PauseRunRequest { RunId = id }, timeout, cancellation)),
            ControlCommand(gateway, "resume", "Resume a paused run, or a stopped or failed one from its newest checkpoint",
                (training, id, timeout, cancellation) => training.ResumeRunAsync(new ResumeRunRequest { RunId = id }, timeout, cancellation)),
            ControlCommand(gateway, "stop", "Stop a run after its step in flight, with a checkpoint (it can be resumed)",
                (training, id, timeout, cancellation) => training.StopRunAsync(new StopRunRequest { RunId = id }, timeout, cancellation)),
            Export(gateway),
        };
        gateway.AddTo(command);
        return command;
    }

    private static Argument<string> RunId() => new("run-id") { Description = "the run's id" };

    private static Command Start(GatewayOptions gateway)
    {
        var config = new Option<FileInfo?>("--config") { Description = "run.yaml to train [default: the built-in demo run, see `olm train --print-default`]" };
        var runId = new Option<string?>("--run-id") { Description = "the run's id, [A-Za-z0-9._-] up to 64 characters [default: one the cluster makes up]" };
        var workers = new Option<int>("--workers") { Description = "data-parallel workers; the batch size must divide by it", DefaultValueFactory = _ => 1 };
        var parameterServers = new Option<int>("--parameter-servers") { Description = "parameter-server shards", DefaultValueFactory = _ => 1 };
        var watch = new Option<bool>("--watch") { Description = "then follow the run until it ends, as `olm run watch` does" };
        var command = new Command("start", "Start a training run on the cluster") { config, runId, workers, parameterServers, watch };
        command.SetAction((parse, cancellation) => gateway.RunAsync(parse, async session =>
        {
            var file = parse.GetValue(config);
            if (file is { Exists: false }) return Cli.Fail($"--config: {file.FullName} does not exist", session.Json);
            if (parse.GetValue(workers) < 1) return Cli.Fail("--workers: must be at least 1", session.Json);
            if (parse.GetValue(parameterServers) < 1) return Cli.Fail("--parameter-servers: must be at least 1", session.Json);
            var run = await session.Training.StartRunAsync(new StartRunRequest
            {
                RunId = parse.GetValue(runId) ?? "",
                Config = file is null ? TrainCommand.DefaultYaml() : await File.ReadAllTextAsync(file.FullName, cancellation),
                Workers = parse.GetValue(workers),
                ParameterServers = parse.GetValue(parameterServers),
            }, session.CallTimeout, cancellation);
            Report(session, run);
            // From step 0: the steps the run took before the watch began are replayed, none is missed.
            return parse.GetValue(watch) ? await RunWatch.FollowAsync(session, run.RunId, fromStep: 0, cancellation) : ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Status(GatewayOptions gateway)
    {
        var runId = new Argument<string?>("run-id") { Description = "a run's id [default: every run]", Arity = ArgumentArity.ZeroOrOne };
        var command = new Command("status", "Show a run, or a table of all runs") { runId };
        command.SetAction((parse, cancellation) => gateway.RunAsync(parse, async session =>
        {
            var runs = parse.GetValue(runId) is { } id
                ? [await session.Training.GetRunAsync(new GetRunRequest { RunId = id }, session.CallTimeout, cancellation)]
                : (await session.Training.ListRunsAsync(new ListRunsRequest(), session.CallTimeout, cancellation)).Runs.ToList();
            if (session.Json)
            {
                foreach (var run in runs) JsonLines.Write(run);
            }
            else
            {
                AnsiConsole.Write(RunView.Table(runs));
                RunView.Errors(runs);
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Watch(GatewayOptions gateway)
    {
        var runId = RunId();
        var fromStep = new Option<long>("--from-step")
        {
            Description = "first replay the training loss of the steps from this one on (0 = all) [default: only what happens from now]",
            DefaultValueFactory = _ => -1,
        };
        var command = new Command("watch", "Follow a run until it ends; the exit code tells how it ended (0 completed, 8 failed, 9 stopped)")
        {
            runId, fromStep,
        };
        command.SetAction((parse, cancellation) => gateway.RunAsync(parse, session =>
            RunWatch.FollowAsync(session, parse.GetValue(runId)!, parse.GetValue(fromStep), cancellation)));
        return command;
    }

    private static Command ControlCommand(GatewayOptions gateway, string name, string description, Control control)
    {
        var runId = RunId();
        var command = new Command(name, description) { runId };
        command.SetAction((parse, cancellation) => gateway.RunAsync(parse, async session =>
        {
            Report(session, await control(session.Training, parse.GetValue(runId)!, session.CallTimeout, cancellation));
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Export(GatewayOptions gateway)
    {
        var runId = RunId();
        var name = new Option<string?>("--name") { Description = "the model's name in `olm models`, [A-Za-z0-9._-] [default: the run's id]" };
        var command = new Command("export", "Save a run's current parameters as a model the gateway serves by name") { runId, name };
        command.SetAction((parse, cancellation) => gateway.RunAsync(parse, async session =>
        {
            var id = parse.GetValue(runId)!;
            var export = await session.Training.ExportModelAsync(
                new ExportModelRequest { RunId = id, ModelName = parse.GetValue(name) ?? "" }, session.CallTimeout, cancellation);
            if (session.Json) JsonLines.Write(export);
            else AnsiConsole.MarkupLineInterpolated($"exported run {id} at step {export.Step} as model [bold]{export.Model}[/] ({Cli.Bytes(export.SizeBytes)})");
            return ExitCodes.Ok;
        }));
        return command;
    }

    /// <summary>The run a control call answered with: a JSON line, or its state and progress.</summary>
    private static void Report(GatewaySession session, Run run)
    {
        if (session.Json) JsonLines.Write(run);
        else AnsiConsole.MarkupLine($"run {Markup.Escape(run.RunId)}: {RunView.State(run.State)}, {RunView.Summary(run)}");
    }
}
