using System.CommandLine;
using System.Text.Json;
using OrleansLm.Model.Decoding;
using OrleansLm.Protos.V1;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary>
/// <c>olm sample</c>: continues a prompt (sampling or beam search) with a local checkpoint, or with a model on the
/// gateway, whose tokens are printed as they are generated.
/// </summary>
public static class SampleCommand
{
    public static Command Create()
    {
        var checkpoint = CheckpointOption.Create();
        var model = CheckpointOption.CreateModel();
        var prompt = new Option<string>("--prompt") { Description = "text to continue", DefaultValueFactory = _ => "\n" };
        var maxTokens = new Option<int>("--max-tokens") { Description = "tokens to generate", DefaultValueFactory = _ => 200 };
        var temperature = new Option<double>("--temperature") { Description = "0 = greedy", DefaultValueFactory = _ => 0.8 };
        var topK = new Option<int>("--top-k") { Description = "keep the k most likely tokens (0 = all)" };
        var topP = new Option<double>("--top-p") { Description = "keep the smallest set with this much mass", DefaultValueFactory = _ => 1.0 };
        var repetition = new Option<double>("--repetition-penalty") { Description = "CTRL-style penalty (1 = off)", DefaultValueFactory = _ => 1.0 };
        var stop = new Option<string[]>("--stop") { Description = "stop when the text ends with this (repeatable)", AllowMultipleArgumentsPerToken = false };
        var samples = new Option<int>("--samples") { Description = "independent samples", DefaultValueFactory = _ => 1 };
        var seed = new Option<int?>("--seed") { Description = "same seed, same text" };
        var beam = new Option<int>("--beam") { Description = "beam width (0 = sample instead)" };
        var lengthPenalty = new Option<double>("--length-penalty") { Description = "beam score = log p / length^α", DefaultValueFactory = _ => 1.0 };
        var topLogprobs = new Option<int>("--top-logprobs") { Description = "with --model: list each token's log-prob and this many likeliest alternatives" };
        var gateway = new GatewayOptions();
        var command = new Command("sample", "Generate text from a checkpoint, or from a model on the gateway (--model)")
        {
            checkpoint, model, prompt, maxTokens, temperature, topK, topP, repetition, stop, samples, seed, beam, lengthPenalty, topLogprobs,
        };
        gateway.AddTo(command);
        command.SetAction((parse, cancellation) =>
        {
            var json = parse.GetValue(gateway.Json);
            if (CheckpointOption.Conflict(parse.GetValue(checkpoint), parse.GetValue(model)) is { } conflict) return Task.FromResult(Cli.Fail(conflict, json));
            var choices = new Choices(parse.GetValue(prompt)!, parse.GetValue(maxTokens), parse.GetValue(temperature), parse.GetValue(topK),
                parse.GetValue(topP), parse.GetValue(repetition), parse.GetValue(stop) ?? [], parse.GetValue(samples), parse.GetValue(seed),
                parse.GetValue(beam), parse.GetValue(lengthPenalty), parse.GetValue(topLogprobs));
            if (parse.GetValue(model) is { } name) return gateway.RunAsync(parse, session => GenerateAsync(session, name, choices, cancellation));
            return Task.FromResult(choices.TopLogprobs > 0
                ? Cli.Fail("--top-logprobs: needs --model (a local checkpoint's log-probs are in --json)", json)
                : SampleLocally(parse.GetValue(checkpoint)!, choices, json));
        });
        return command;
    }

    /// <summary>What the options ask of the decoder.</summary>
    private sealed record Choices(
        string Prompt, int MaxTokens, double Temperature, int TopK, double TopP, double RepetitionPenalty, string[] Stop, int Samples,
        int? Seed, int Beam, double LengthPenalty, int TopLogprobs)
    {
        public GenerateRequest ToRequest(string model)
        {
            var request = new GenerateRequest
            {
                Model = model,
                Prompt = Prompt,
                MaxNewTokens = MaxTokens,
                // A beam of one is greedy decoding, which the gateway does at temperature 0 (its beam search takes two or more).
                Temperature = Beam == 1 ? 0 : Temperature,
                TopK = TopK,
                TopP = TopP,
                RepetitionPenalty = RepetitionPenalty,
                BeamWidth = Beam,
                LengthPenalty = LengthPenalty,
                N = Beam > 0 ? Math.Min(Samples, Beam) : Samples,
                TopLogprobs = TopLogprobs,
                Stop = { Stop },
            };
            if (Seed is { } seed) request.Seed = seed;
            return request;
        }
    }

    private static int SampleLocally(FileInfo checkpoint, Choices choices, bool json)
    {
        var loaded = CheckpointOption.Load(checkpoint, json);
        if (loaded is not { } pair) return ExitCodes.BadInput;
        var (model, tokenizer) = pair;
        using (model)
        {
            try
            {
                var outputs = choices.Beam > 0
                    ? TextDecoding.Search(model, tokenizer, choices.Prompt, new BeamSearchOptions
                    {
                        BeamWidth = choices.Beam, MaxNewTokens = choices.MaxTokens,
                        LengthPenalty = choices.LengthPenalty, NumReturn = Math.Min(choices.Samples, choices.Beam),
                    })
                    : TextDecoding.Sample(model, tokenizer, choices.Prompt, new SamplingOptions
                    {
                        MaxNewTokens = choices.MaxTokens, Temperature = choices.Temperature, TopK = choices.TopK,
                        TopP = choices.TopP, RepetitionPenalty = choices.RepetitionPenalty, NumSamples = choices.Samples,
                        Seed = choices.Seed,
                        StopSequences = [.. choices.Stop.Select(s => (IReadOnlyList<int>)TextDecoding.Encode(tokenizer, s, "stop"))],
                    });
                foreach (var output in outputs)
                {
                    if (json)
                        Console.WriteLine(JsonSerializer.Serialize(new
                        {
                            text = output.Text, tokens = output.Tokens, log_probs = output.LogProbs, finish_reason = output.FinishReason,
                        }));
                    else
                        Console.WriteLine(choices.Prompt + output.Text);
                }
                return ExitCodes.Ok;
            }
            catch (ArgumentException e)
            {
                return Cli.Fail(e, json);
            }
        }
    }

    /// <summary>
    /// One sample streams: the prompt, then each token as the gateway decodes it. Several samples, a beam search or
    /// --json take one Generate call and print each completion.
    /// </summary>
    private static async Task<int> GenerateAsync(GatewaySession session, string model, Choices choices, CancellationToken cancellation)
    {
        var request = choices.ToRequest(model);
        if (session.Json || request.N > 1 || choices.Beam > 0)
        {
            var response = await session.Sampling.GenerateAsync(request, session.LongCallTimeout, cancellation);
            foreach (var completion in response.Completions)
            {
                if (session.Json) JsonLines.Write(completion, ("model", response.Model), ("prompt_tokens", response.PromptTokens));
                else
                {
                    Console.WriteLine(choices.Prompt + completion.Text);
                    if (choices.TopLogprobs > 0) AnsiConsole.Write(TokenTable(completion.Tokens));
                }
            }
            return ExitCodes.Ok;
        }

        var tokens = new List<GeneratedToken>();
        Console.Write(choices.Prompt);
        try
        {
            await foreach (var chunk in session.Sampling.GenerateStreamAsync(request, session.LongCallTimeout, cancellation))
            {
                if (chunk.Token is not { } token) continue;
                Console.Write(token.Text);
                tokens.Add(token);
            }
        }
        finally
        {
            // Ends the text's line, so that an error (or Ctrl+C) is reported on its own.
            Console.WriteLine();
        }
        if (choices.TopLogprobs > 0) AnsiConsole.Write(TokenTable(tokens));
        return ExitCodes.Ok;
    }

    private static Table TokenTable(IEnumerable<GeneratedToken> tokens)
    {
        var table = new Table().AddColumns("token", "log-prob", "likeliest alternatives");
        foreach (var token in tokens)
            table.AddRow(Cli.Cell(token.Text), $"{token.Logprob:F3}",
                string.Join("  ", token.TopLogprobs.Select(alternative => $"{Cli.Cell(alternative.Text)} {alternative.Logprob:F3}")));
        return table;
    }
}
