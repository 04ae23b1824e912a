using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

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
/// decoding: the prompt is fed once, then one token per sequence per step.
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
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        Checked.Tokens(prompt, model.VocabularySize, 1, nameof(prompt));
        foreach (var stop in options.StopSequences) Checked.Tokens(stop, model.VocabularySize, 1, nameof(options.StopSequences));

        var device = TokenTensors.DeviceOf(model);
        var random = options.Seed is { } seed ? new Random(seed) : new Random();
        var samples = Enumerable.Range(0, options.NumSamples).Select(_ => new Sample(prompt)).ToArray();
        var results = new Generation[samples.Length];
        // active[r] is the sample decoded in row r of the model's state; finished rows are dropped with Select.
        var active = Enumerable.Range(0, samples.Length).ToList();

        using var noGrad = LibTorch.NoGrad();
        using var state = model.BeginDecoding(samples.Length);
        for (var step = 0; active.Count > 0; step++)
        {
            using var scope = DisposeScope.Enter();
            var input = step == 0
                ? TokenTensors.Of(Enumerable.Repeat(prompt, samples.Length).SelectMany(t => t), [samples.Length, prompt.Count], device)
                : TokenTensors.Of(active.Select(s => samples[s].Tokens[^1]), [active.Count, 1], device);
            var logits = model.Step(state, input);   // [B, V]
            var contexts = active.Select(s => samples[s].Context).ToList();
            var filtered = LogitsFilters.Apply(logits, contexts, options);
            var tokens = options.IsGreedy ? filtered.ArgMax(-1).ToArray<long>() : SampleRows(filtered, random);
            var chosen = Tensor.FromArray(tokens, [tokens.Length, 1], logits.Device);
            var logProbs = logits.To(ScalarType.Float64).LogSoftmax(-1).Gather(-1, chosen).ToArray<double>();

            var keep = new List<int>(active.Count);
            for (var row = 0; row < active.Count; row++)
            {
                var sample = samples[active[row]];
                sample.Append((int)tokens[row], logProbs[row]);
                if (sample.Finish(options) is { } finished) results[active[row]] = finished;
                else keep.Add(row);
            }
            if (keep.Count == active.Count) continue;
            active = keep.Select(row => active[row]).ToList();
            if (active.Count > 0) state.Select(TokenTensors.Of(keep, [keep.Count], device));
        }
        return results;
    }

    /// <summary>Draws one token per row of <paramref name="logits"/> [B, V] by inverting the row's CDF.</summary>
    private static long[] SampleRows(Tensor logits, Random random)
    {
        var vocabulary = (int)logits.Shape[1];
        var probabilities = logits.To(ScalarType.Float64).Softmax(-1).ToArray<double>();
        var tokens = new long[probabilities.Length / vocabulary];
        for (var b = 0; b < tokens.Length; b++)
        {
            var row = probabilities.AsSpan(b * vocabulary, vocabulary);
            var u = random.NextDouble();
            var cumulative = 0.0;
            var last = -1;
            for (var v = 0; v < vocabulary && cumulative <= u; v++)
            {
                if (row[v] == 0) continue;
                cumulative += row[v];
                last = v;
            }
            // If rounding leaves the total just under u, the last token with any mass takes the remainder.
            tokens[b] = last;
        }
        return tokens;
    }

    private sealed class Sample(IReadOnlyList<int> prompt)
    {
        private readonly List<int> tokens = [];
        private readonly List<double> logProbs = [];

        public IReadOnlyList<int> Tokens => tokens;

        /// <summary>Prompt and generated tokens: what the repetition penalty looks at.</summary>
        public IReadOnlyList<int> Context => [.. prompt, .. tokens];

        public void Append(int token, double logProb)
        {
            tokens.Add(token);
            logProbs.Add(logProb);
        }

        /// <summary>The result, once the generated tokens end with a stop sequence or reach the length limit.</summary>
        public Generation? Finish(SamplingOptions options)
        {
            foreach (var stop in options.StopSequences)
                if (tokens.Count >= stop.Count && tokens[^stop.Count..].SequenceEqual(stop))
                    return Result(tokens.Count - stop.Count, FinishReason.Stop);
            return tokens.Count == options.MaxNewTokens ? Result(tokens.Count, FinishReason.Length) : null;
        }

        private Generation Result(int count, FinishReason reason) => new(tokens[..count], logProbs[..count], reason);
    }
}
