using System.CommandLine;
using System.Text.Json;
using OrleansLm.Model.Training;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary><c>olm train</c>: runs a run.yaml in-process, with a progress bar or JSON lines.</summary>
public static class TrainCommand
{
    private static readonly JsonSerializerOptions JsonLines = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static Command Create()
    {
        var config = new Option<FileInfo?>("--config") { Description = "run.yaml to train (default: the built-in demo run; see --print-default)" };
        var json = new Option<bool>("--json") { Description = "write one JSON object per event instead of a progress bar" };
        var resume = new Option<bool>("--resume") { Description = "continue from training.checkpoint when it exists" };
        var printDefault = new Option<bool>("--print-default") { Description = "print the built-in run.yaml and exit" };
        var command = new Command("train", "Train a language model in this process") { config, json, resume, printDefault };
        command.SetAction((parse, cancellation) => Task.FromResult(parse.GetValue(printDefault)
            ? PrintDefault()
            : Run(parse.GetValue(config), parse.GetValue(json), parse.GetValue(resume), cancellation)));
        return command;
    }

    private static int PrintDefault()
    {
        Console.Write(DefaultYaml());
        return ExitCodes.Ok;
    }

    private static int Run(FileInfo? configFile, bool json, bool resume, CancellationToken cancellation)
    {
        RunConfig config;
        try
        {
            config = configFile is null ? ConfigFile.Parse<RunConfig>(DefaultYaml(), "built-in run.yaml") : ConfigFile.Load<RunConfig>(configFile.FullName);
        }
        catch (ConfigException e)
        {
            return Cli.Fail(e.Message);
        }

        try
        {
            var training = config.TrainingOrDefault;
            RunSummary summary;
            if (json)
            {
                summary = TrainingRun.Execute(config, new JsonProgress(), resume, cancellation);
                Console.WriteLine(JsonSerializer.Serialize(new
                {
                    @event = "done", summary.Family, summary.Parameters, summary.ValidationLoss, summary.TrainTokens,
                    ElapsedSeconds = summary.Elapsed.TotalSeconds, summary.Checkpoint,
                }, JsonLines));
            }
            else
            {
                if (config.ModelOrDefault is NGramSection ngram)
                {
                    // Counting takes one pass over the corpus, with no steps to show.
                    AnsiConsole.MarkupLineInterpolated($"[bold]olm train[/]: counting {ngram.Order}-grams of {config.Data.Path}");
                    summary = TrainingRun.Execute(config, null, resume, cancellation);
                }
                else
                {
                    AnsiConsole.MarkupLineInterpolated($"[bold]olm train[/]: {config.ModelOrDefault.GetType().Name.Replace("Section", "")} on {config.Data.Path}, {training.Steps} steps{(training.MaxSeconds > 0 ? $" or {training.MaxSeconds} s" : "")}");
                    summary = AnsiConsole.Progress()
                        .AutoClear(false)
                        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
                        .Start(context =>
                        {
                            var task = context.AddTask("training", maxValue: 1);
                            return TrainingRun.Execute(config, new BarProgress(task, training.MaxSeconds), resume, cancellation);
                        });
                }
                AnsiConsole.MarkupLineInterpolated(
                    $"validation loss [bold]{summary.ValidationLoss:F4}[/] nats/token (perplexity {summary.ValidationPerplexity:F2}), {summary.Parameters:N0} parameters, {summary.Elapsed.TotalSeconds:F1} s");
                if (summary.Checkpoint is not null) AnsiConsole.MarkupLineInterpolated($"checkpoint: {summary.Checkpoint}");
            }
            return ExitCodes.Ok;
        }
        catch (ConfigException e)
        {
            return Cli.Fail(e.Message);
        }
        catch (TrainingDivergedException e)
        {
            AnsiConsole.MarkupLineInterpolated($"[red]diverged[/]: {e.Message}");
            return ExitCodes.Diverged;
        }
        catch (InvalidDataException e)
        {
            return Cli.Fail(e.Message);
        }
    }

    internal static string DefaultYaml()
    {
        using var stream = typeof(TrainCommand).Assembly.GetManifestResourceStream("default-run.yaml")
                           ?? throw new InvalidOperationException("the built-in run.yaml is missing from the olm assembly");
        return new StreamReader(stream).ReadToEnd();
    }

    // Both print synchronously on the training thread (System.Progress<T> would post to the thread pool).
    private sealed class JsonProgress : IProgress<TrainingEvent>
    {
        public void Report(TrainingEvent value) => Console.WriteLine(JsonSerializer.Serialize(new
        {
            @event = value.Kind.ToString().ToLowerInvariant(),
            value.Step,
            value.Loss,
            value.ValidationLoss,
            value.LearningRate,
            value.GradientNorm,
            value.TokensPerSecond,
            ElapsedSeconds = value.Elapsed.TotalSeconds,
        }, JsonLines));
    }

    // The bar shows whichever ends the run first: the steps or the time budget (max_seconds, 0 = none).
    private sealed class BarProgress(ProgressTask task, double maxSeconds) : IProgress<TrainingEvent>
    {
        public void Report(TrainingEvent value)
        {
            var byTime = maxSeconds > 0 ? value.Elapsed.TotalSeconds / maxSeconds : 0;
            task.Value = Math.Min(1, Math.Max((double)value.Step / Math.Max(1, value.MaxSteps), byTime));
            task.Description = value.Kind switch
            {
                TrainingEventKind.Evaluation => $"step {value.Step}/{value.MaxSteps}  val loss {value.ValidationLoss:F3}",
                TrainingEventKind.SkippedStep => $"step {value.Step}/{value.MaxSteps}  skipped (non-finite)",
                _ => $"step {value.Step}/{value.MaxSteps}  loss {value.Loss:F3}  {value.TokensPerSecond:N0} tok/s",
            };
            if (value.Kind == TrainingEventKind.Evaluation)
                AnsiConsole.MarkupLineInterpolated($"step {value.Step}: train loss {value.Loss:F4}, val loss {value.ValidationLoss:F4}");
        }
    }
}
