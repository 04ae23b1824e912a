using System.CommandLine;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary><c>olm demo</c>: trains a tiny character model in-process and prints a sample.</summary>
public static class DemoCommand
{
    // Installed by scripts/setup.sh (Debian's fortunes-min); the demo never reads the repository's data.
    private static readonly string[] DefaultCorpus =
    [
        "/usr/share/games/fortunes/fortunes",
        "/usr/share/games/fortunes/literature",
        "/usr/share/games/fortunes/riddles",
    ];

    public static Command Create()
    {
        var defaults = new SmokeConfig();
        var corpus = new Option<FileInfo[]>("--corpus") { Description = "UTF-8 text files to train on (default: Debian's fortunes)", AllowMultipleArgumentsPerToken = true };
        var steps = new Option<int>("--steps") { Description = "SGD steps", DefaultValueFactory = _ => defaults.Steps };
        var threads = new Option<int>("--threads") { Description = "libtorch threads (0 = libtorch's default; small models run fastest on one)", DefaultValueFactory = _ => 0 };
        var seed = new Option<ulong>("--seed") { Description = "random seed", DefaultValueFactory = _ => defaults.Seed };
        var command = new Command("demo", "Train a tiny character-level model in-process and print a sample") { corpus, steps, threads, seed };
        command.SetAction((parse, cancellation) =>
            Task.FromResult(Run(parse.GetValue(corpus), parse.GetValue(steps), parse.GetValue(threads), parse.GetValue(seed), cancellation)));
        return command;
    }

    private static int Run(FileInfo[]? corpusFiles, int steps, int threads, ulong seed, CancellationToken cancellation)
    {
        if (steps < 1) return Fail("--steps must be at least 1");
        if (threads < 0) return Fail("--threads must be 0 or more");
        var paths = corpusFiles is { Length: > 0 } ? corpusFiles.Select(f => f.FullName).ToArray() : DefaultCorpus;
        var missing = paths.FirstOrDefault(p => !File.Exists(p));
        if (missing is not null)
            return Fail($"--corpus: file not found: {missing}" + (corpusFiles is null ? " (run scripts/setup.sh to install the demo corpus)" : ""));
        // Fortune files separate entries with lines holding only '%'.
        var text = string.Join("\n", paths.Select(File.ReadAllLines).SelectMany(lines => lines).Where(line => line != "%"));

        if (threads > 0) LibTorch.NumThreads = threads;
        var config = new SmokeConfig(Steps: steps, Seed: seed);
        using var trainer = new SmokeTrainer(text, config);
        AnsiConsole.MarkupLineInterpolated($"[bold]olm demo[/]: {text.Length:N0} characters, vocabulary {trainer.VocabularySize}, {trainer.ParameterCount:N0} parameters, libtorch {LibTorch.Version}, {LibTorch.NumThreads} thread(s)");
        trainer.Train(new ConsoleProgress(), cancellation);
        AnsiConsole.MarkupLine("[bold]sample[/]:");
        AnsiConsole.WriteLine(trainer.Sample("A ", 300));
        return ExitCodes.Ok;
    }

    private static int Fail(string message)
    {
        AnsiConsole.MarkupLineInterpolated($"[red]error[/]: {message}");
        return ExitCodes.BadInput;
    }

    // Prints each report as it arrives (synchronously, unlike System.Progress<T>).
    private sealed class ConsoleProgress : IProgress<SmokeProgress>
    {
        public void Report(SmokeProgress value) =>
            Console.WriteLine($"step {value.Step,5}/{value.TotalSteps}  loss {value.Loss:F3}  {value.TokensPerSecond,9:N0} tokens/s");
    }
}
