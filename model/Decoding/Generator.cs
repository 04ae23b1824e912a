using OrleansLm.Model.Models;

namespace OrleansLm.Model.Decoding;

public enum FinishReason
{
    /// <summary>Reached <see cref="SamplingOptions.MaxNewTokens"/>.</summary>
    Length,

    /// <summary>Generated one of <see cref="SamplingOptions.StopSequences"/> (left out of the tokens).</summary>
    Stop,
}

/// <summary>
/// One generated continuation. <paramref name="LogProbs"/>[i] is ln p(Tokens[i] | prompt, Tokens[..i]) under the
/// model itself, before any penalty, temperature or truncation, so it agrees with <see cref="Scorer"/>.
/// </summary>
public sealed record Generation(IReadOnlyList<int> Tokens, IReadOnlyList<double> LogProbs, FinishReason FinishReason);

/// <summary>
/// Greedy decoding and sampling (temperature, top-k, top-p, repetition penalty) with the model's incremental
/// decoding: the prompt is fed once, then one token per sequence per step. The samples of one call are decoded as
/// one batch; <see cref="GenerationBatcher"/> batches the samples of concurrent calls.
/// </summary>
/// <remarks>
/// Samples are drawn on the host with a <see cref="Random"/> owned by the call, from the filtered probabilities
/// copied out of libtorch, rather than with libtorch's multinomial after <c>LibTorch.ManualSeed</c>: libtorch's
/// generator is process-wide, so any concurrent generation, dropout or initialisation would shift its stream and a
/// seed would no longer fix the output. The copy costs B·V values per step, next to a forward pass of the model,
/// and the chosen tokens must reach the host anyway (stop sequences, the next step's input).
/// </remarks>
public static class Generator
{
    /// <summary>Generates <see cref="SamplingOptions.NumSamples"/> continuations of <paramref name="prompt"/>.</summary>
    public static IReadOnlyList<Generation> Generate(ILanguageModel model, IReadOnlyList<int> prompt, SamplingOptions options)
    {
        var group = new SampleGroup(model, prompt, options);
        SampleGroup.Decode(model, [group]);
        return group.Completion.GetAwaiter().GetResult();
    }
}
