using OrleansLm.Model.Models;
using OrleansLm.Model.Text;

namespace OrleansLm.Model.Decoding;

/// <summary>
/// One continuation of a prompt: the generated text and its tokens, ln p of each token under the model, and why it
/// ended: "length", "stop", or "beam" for a beam-search hypothesis.
/// </summary>
public sealed record TextCompletion(string Text, IReadOnlyList<int> Tokens, IReadOnlyList<double> LogProbs, string FinishReason);

/// <summary>
/// Generation, beam search and scoring on text through the model's tokenizer: what <c>olm sample</c>, <c>olm score</c>
/// and the samplers do with a loaded model. Errors name the caller's field (the prompt, the text).
/// </summary>
public static class TextDecoding
{
    /// <summary>Continuations of <paramref name="prompt"/> by <see cref="Generator"/> (greedy or sampled, as <paramref name="options"/> say).</summary>
    public static IReadOnlyList<TextCompletion> Sample(ILanguageModel model, ITokenizer tokenizer, string prompt, SamplingOptions options) =>
        [.. Generator.Generate(model, Encode(tokenizer, prompt, nameof(prompt)), options)
            .Select(g => Completion(tokenizer, g.Tokens, g.LogProbs, g.FinishReason.ToString().ToLowerInvariant()))];

    /// <summary>The best continuations of <paramref name="prompt"/> by <see cref="BeamSearch"/>, best first.</summary>
    public static IReadOnlyList<TextCompletion> Search(ILanguageModel model, ITokenizer tokenizer, string prompt, BeamSearchOptions options) =>
        [.. BeamSearch.Search(model, Encode(tokenizer, prompt, nameof(prompt)), options)
            .Select(h => Completion(tokenizer, h.Tokens, h.LogProbs, "beam"))];

    /// <summary>The tokens of <paramref name="text"/> (at least two) and how surprised the model is by them.</summary>
    /// <param name="field">The caller's name for the text, which errors name.</param>
    public static (int[] Tokens, SequenceScore Score) Score(ILanguageModel model, ITokenizer tokenizer, string text, string field = "text")
    {
        var tokens = Encode(tokenizer, text, field);
        if (tokens.Length < 2)
            throw new ArgumentException($"the text needs at least two tokens to score, it has {tokens.Length}", field);
        return (tokens, Scorer.Score(model, tokens));
    }

    /// <summary>The tokens of <paramref name="text"/>; a character the tokenizer cannot encode is reported against <paramref name="field"/>.</summary>
    public static int[] Encode(ITokenizer tokenizer, string text, string field)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(text, field);
        try
        {
            return tokenizer.Encode(text);
        }
        catch (ArgumentException e) when (e.ParamName != field)
        {
            // The tokenizer names its own parameter; the message without that suffix is the reason.
            var reason = e.ParamName is { } name ? e.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : e.Message;
            throw new ArgumentException(reason, field, e);
        }
    }

    private static TextCompletion Completion(ITokenizer tokenizer, IReadOnlyList<int> tokens, IReadOnlyList<double> logProbs, string finishReason) =>
        new(tokenizer.Decode(tokens), tokens, logProbs, finishReason);
}
