using System.CommandLine;
using System.Text.Json;
using OrleansLm.Model.Decoding;
using Spectre.Console;

namespace OrleansLm.Cli;

/// <summary><c>olm sample</c>: continues a prompt with a trained model (sampling or beam search).</summary>
public static class SampleCommand
{
    public static Command Create()
    {
        var checkpoint = CheckpointOption.Create();
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
        var json = new Option<bool>("--json") { Description = "print JSON with tokens and log-probs" };
        var command = new Command("sample", "Generate text from a checkpoint")
        {
            checkpoint, prompt, maxTokens, temperature, topK, topP, repetition, stop, samples, seed, beam, lengthPenalty, json,
        };
        command.SetAction(parse =>
        {
            var loaded = CheckpointOption.Load(parse.GetValue(checkpoint)!);
            if (loaded is not { } pair) return ExitCodes.BadInput;
            var (model, tokenizer) = pair;
            using (model)
            {
                try
                {
                    var promptText = parse.GetValue(prompt)!;
                    var outputs = parse.GetValue(beam) > 0
                        ? TextDecoding.Search(model, tokenizer, promptText, new BeamSearchOptions
                        {
                            BeamWidth = parse.GetValue(beam), MaxNewTokens = parse.GetValue(maxTokens),
                            LengthPenalty = parse.GetValue(lengthPenalty), NumReturn = Math.Min(parse.GetValue(samples), parse.GetValue(beam)),
                        })
                        : TextDecoding.Sample(model, tokenizer, promptText, new SamplingOptions
                        {
                            MaxNewTokens = parse.GetValue(maxTokens), Temperature = parse.GetValue(temperature), TopK = parse.GetValue(topK),
                            TopP = parse.GetValue(topP), RepetitionPenalty = parse.GetValue(repetition), NumSamples = parse.GetValue(samples),
                            Seed = parse.GetValue(seed),
                            StopSequences = [.. (parse.GetValue(stop) ?? []).Select(s => (IReadOnlyList<int>)TextDecoding.Encode(tokenizer, s, "stop"))],
                        });
                    foreach (var output in outputs)
                    {
                        if (parse.GetValue(json))
                            Console.WriteLine(JsonSerializer.Serialize(new
                            {
                                text = output.Text, tokens = output.Tokens, log_probs = output.LogProbs, finish_reason = output.FinishReason,
                            }));
                        else
                            Console.WriteLine(promptText + output.Text);
                    }
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
