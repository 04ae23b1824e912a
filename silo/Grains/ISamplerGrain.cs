using OrleansLm.Model.Decoding;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// A loaded model for generation and scoring, keyed by what it loads (<see cref="SamplerKey"/>): a file that
/// <c>olm train</c> or a run's export wrote (a neural model, or an n-gram model with its tokenizer beside it), or a
/// training run, whose current parameters it asks the run to export. A stateless worker: each silo keeps its own pool
/// of activations per key, beside their callers, each holding its own copy of the model.
/// </summary>
public interface ISamplerGrain : IGrainWithStringKey
{
    /// <summary>One continuation of <see cref="SampleRequest.Prompt"/> (the text it returns leaves the prompt out).</summary>
    Task<TextCompletion> Sample(SampleRequest request);

    /// <summary>How surprised the model is by <paramref name="text"/> (at least two tokens), per token after the first.</summary>
    Task<TextScore> Score(string text);

    /// <summary>
    /// Loads the model again: the file as it is now, or for a run the parameters it has now. Every activation of this
    /// key on the calling silo reloads before its next call.
    /// </summary>
    Task Refresh();
}

/// <summary>The keys of <see cref="ISamplerGrain"/>s.</summary>
public static class SamplerKey
{
    /// <summary>Starts the key of a sampler of a training run; a file whose path starts so is named as ./run:...</summary>
    public const string RunPrefix = "run:";

    /// <summary>The sampler of run <paramref name="runId"/>'s current parameters.</summary>
    public static string ForRun(string runId) => RunPrefix + runId;
}

public enum DecodingMethod
{
    /// <summary>The most likely token at every step.</summary>
    Greedy,

    /// <summary>Draws from the model's distribution after temperature, top-k and top-p.</summary>
    Sampling,

    /// <summary>The most likely continuation found by beam search of <see cref="SampleRequest.BeamWidth"/> hypotheses.</summary>
    BeamSearch,
}

/// <param name="Prompt">The text to continue: at least one token, in the model's vocabulary.</param>
/// <param name="MaxNewTokens">Tokens to generate at most, at least 1.</param>
/// <param name="Temperature">Sampling: divides the logits; must be &gt; 0.</param>
/// <param name="TopK">Sampling: keeps the k most likely tokens; 0 keeps all.</param>
/// <param name="TopP">Sampling: keeps the smallest set of most likely tokens with this much mass, in (0, 1].</param>
/// <param name="BeamWidth">Beam search: hypotheses kept at each step, at least 1.</param>
/// <param name="Seed">Sampling: the same seed, model and request give the same text; null draws a fresh seed.</param>
public sealed record SampleRequest(
    string Prompt,
    int MaxNewTokens = 64,
    DecodingMethod Decoding = DecodingMethod.Greedy,
    double Temperature = 1,
    int TopK = 0,
    double TopP = 1,
    int BeamWidth = 4,
    int? Seed = null);

/// <param name="Tokens">Tokens scored: the text's tokens after the first.</param>
/// <param name="AverageSurprisal">Mean −ln p per token, in nats (comparable with a validation loss).</param>
/// <param name="AverageSurprisalBits">The same in bits.</param>
/// <param name="Perplexity">exp(average surprisal in nats).</param>
public sealed record TextScore(int Tokens, double AverageSurprisal, double AverageSurprisalBits, double Perplexity);
