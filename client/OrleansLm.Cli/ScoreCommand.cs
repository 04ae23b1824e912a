using System.CommandLine;
using OrleansLm.Model.Decoding;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary><c>olm score</c>: per-token surprisal and perplexity of a text under a trained model.</summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var checkpoint = CheckpointOption.Create();
        var text = new Option<string?>("--text") { Description = "the text to score" };
        var file = new Option<FileInfo?>("--file") { Description = "a file to score instead of --text" };
        var tokens = new Option<bool>("--tokens") { Description = "also list each token's surprisal" };
        var command = new Command("score", "Surprisal and perplexity of a text under a checkpoint") { checkpoint, text, file, tokens };
        command.SetAction(parse =>
        {
            var input = parse.GetValue(file) is { } f ? (f.Exists ? File.ReadAllText(f.FullName) : null) : parse.GetValue(text);
            if (input is null) return Cli.Fail(parse.GetValue(file) is { } missing ? $"--file: {missing.FullName} does not exist" : "give --text or --file");
            var loaded = CheckpointOption.Load(parse.GetValue(checkpoint)!);
            if (loaded is not { } pair) return ExitCodes.BadInput;
            var (model, tokenizer) = pair;
            using (model)
            {
                try
                {
                    var (ids, score) = TextDecoding.Score(model, tokenizer, input, parse.GetValue(file) is null ? "text" : "file");
                    if (parse.GetValue(tokens))
                    {
                        var table = new Table().AddColumns("token", "surprisal (nats)", "bits");
                        for (var i = 0; i < score.Surprisal.Count; i++)
                            table.AddRow(Markup.Escape(tokenizer.Decode([ids[i + 1]])), $"{score.Surprisal[i]:F3}", $"{score.SurprisalBits[i]:F3}");
                        AnsiConsole.Write(table);
                    }
                    Console.WriteLine($"tokens {score.Surprisal.Count}  average surprisal {score.AverageSurprisal:F4} nats ({score.AverageSurprisalBits:F4} bits)  " +
                                      $"perplexity {score.Perplexity:F3}  log-prob {score.LogProbability:F3}");
                    return ExitCodes.Ok;
                }
                catch (ArgumentException e)
                {
                    return Cli.Fail(e);
                }
            }
        });
        return command;
    }
}
