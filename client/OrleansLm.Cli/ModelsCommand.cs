using System.CommandLine;
using OrleansLm.Protos.V1;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary><c>olm models</c>: the models the gateway samples from (exports and runs).</summary>
public static class ModelsCommand
{
    public static Command Create()
    {
        var gateway = new GatewayOptions();
        var command = new Command("models", "List the models the gateway serves: exported ones and training runs");
        gateway.AddTo(command);
        command.SetAction((parse, cancellation) => gateway.RunAsync(parse, async session =>
        {
            var models = (await session.Sampling.ListModelsAsync(new ListModelsRequest(), session.CallTimeout, cancellation)).Models;
            if (session.Json)
            {
                foreach (var model in models) JsonLines.Write(model);
                return ExitCodes.Ok;
            }
            var table = new Table().AddColumns("model", "source", "run state", "step", "size", "modified");
            foreach (var model in models)
            {
                var run = model.Source == ModelInfo.Types.Source.Run;
                table.AddRow(Markup.Escape(model.Model), Cli.Name(model.Source), run ? RunView.State(model.RunState) : "", run ? model.Step.ToString() : "",
                    run ? "" : Cli.Bytes(model.SizeBytes),
                    run ? "" : DateTimeOffset.FromUnixTimeSeconds(model.ModifiedUnixSeconds).ToLocalTime().ToString("yyyy-MM-dd HH:mm"));
            }
            AnsiConsole.Write(table);
            return ExitCodes.Ok;
        }));
        return command;
    }
}
