using System.CommandLine;
using OrleansLm.Model.Decoding;
using OrleansLm.Protos.V1;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary><c>olm score</c>: per-token surprisal and perplexity of a text under a checkpoint or a model on the gateway.</summary>
public static class ScoreCommand
{
    public static Command Create()
    {
        var checkpoint = CheckpointOption.Create();
        var model = CheckpointOption.CreateModel();
        var text = new Option<string?>("--text") { Description = "the text to score" };
        var file = new Option<FileInfo?>("--file") { Description = "a file to score instead of --text" };
        var tokens = new Option<bool>("--tokens") { Description = "also list each token's surprisal" };
        var gateway = new GatewayOptions();
        var command = new Command("score", "Surprisal and perplexity of a text under a checkpoint, or a model on the gateway (--model)")
        {
            checkpoint, model, text, file, tokens,
        };
        gateway.AddTo(command);
        command.SetAction((parse, cancellation) =>
        {
            var json = parse.GetValue(gateway.Json);
            if (CheckpointOption.Conflict(parse.GetValue(checkpoint), parse.GetValue(model)) is { } conflict) return Task.FromResult(Cli.Fail(conflict, json));
            var input = parse.GetValue(file) is { } f ? (f.Exists ? File.ReadAllText(f.FullName) : null) : parse.GetValue(text);
            if (input is null)
                return Task.FromResult(Cli.Fail(parse.GetValue(file) is { } missing ? $"--file: {missing.FullName} does not exist" : "give --text or --file", json));
            var source = parse.GetValue(file) is null ? "text" : "file";
            if (parse.GetValue(model) is { } name)
            {
                return gateway.RunAsync(parse, async session =>
                {
                    var score = await session.Sampling.ScoreAsync(new ScoreRequest { Model = name, Text = input }, session.CallTimeout, cancellation);
                    if (json) JsonLines.Write(score);
                    else Print(score, parse.GetValue(tokens));
                    return ExitCodes.Ok;
                });
            }
            return Task.FromResult(ScoreLocally(parse.GetValue(checkpoint)!, input, source, parse.GetValue(tokens), json));
        });
        return command;
    }

    private static int ScoreLocally(FileInfo checkpoint, string input, string source, bool listTokens, bool json)
    {
        var loaded = CheckpointOption.Load(checkpoint, json);
        if (loaded is not { } pair) return ExitCodes.BadInput;
        var (model, tokenizer) = pair;
        using (model)
        {
            try
            {
                var (ids, score) = TextDecoding.Score(model, tokenizer, input, source);
                // The gateway's ScoreResponse, so that both modes print (and --json writes) the same.
                var response = new ScoreResponse
                {
                    AverageSurprisal = score.AverageSurprisal, AverageSurprisalBits = score.AverageSurprisalBits, Perplexity = score.Perplexity,
                };
                for (var i = 0; i < score.Surprisal.Count; i++)
                    response.Tokens.Add(new GeneratedToken { Id = ids[i + 1], Text = tokenizer.Decode([ids[i + 1]]), Logprob = -score.Surprisal[i] });
                if (json) JsonLines.Write(response);
                else Print(response, listTokens);
                return ExitCodes.Ok;
            }
            catch (ArgumentException e)
            {
                return Cli.Fail(e, json);
            }
        }
    }

    private static void Print(ScoreResponse score, bool listTokens)
    {
        if (listTokens)
        {
            var table = new Table().AddColumns("token", "surprisal (nats)", "bits");
            foreach (var token in score.Tokens)
                table.AddRow(Cli.Cell(token.Text), $"{-token.Logprob:F3}", $"{-token.Logprob / Math.Log(2):F3}");
            AnsiConsole.Write(table);
        }
        Console.WriteLine($"tokens {score.Tokens.Count}  average surprisal {score.AverageSurprisal:F4} nats ({score.AverageSurprisalBits:F4} bits)  " +
                          $"perplexity {score.Perplexity:F3}  log-prob {score.Tokens.Sum(t => t.Logprob):F3}");
    }
}
