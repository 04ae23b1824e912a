using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Decoding;

public sealed record BeamSearchOptions
{
    /// <summary>Hypotheses kept alive at each step.</summary>
    public int BeamWidth
    {
        get;
        init => field = Checked.AtLeast(value, 1, nameof(BeamWidth));
    } = 4;

    /// <summary>Tokens to generate at most; live hypotheses end here.</summary>
    public int MaxNewTokens
    {
        get;
        init => field = Checked.AtLeast(value, 1, nameof(MaxNewTokens));
    } = 64;

    /// <summary>
    /// α of the score log p / length^α (GNMT-style, as Hugging Face's length_penalty): 0 ranks by log-probability,
    /// larger values favour longer hypotheses.
    /// </summary>
    public double LengthPenalty
    {
        get;
        init => field = Checked.Finite(value, nameof(LengthPenalty));
    } = 1;

    /// <summary>A token that ends a hypothesis (kept as its last token); null lets every hypothesis run to the limit.</summary>
    public int? EndToken { get; init; }

    /// <summary>Best hypotheses to return, at most <see cref="BeamWidth"/>.</summary>
    public int NumReturn
    {
        get;
        init => field = Checked.AtLeast(value, 1, nameof(NumReturn));
    } = 1;
}

/// <summary>
/// A finished hypothesis: its generated tokens, their log-probabilities ln p(Tokens[i] | prompt, Tokens[..i]),
/// their sum, and the length-penalised score beam search ranks by.
/// </summary>
public sealed record BeamHypothesis(IReadOnlyList<int> Tokens, IReadOnlyList<double> LogProbs, double LogProbability, double Score);

/// <summary>
/// Beam search over the model's incremental decoding: at each step every live hypothesis is extended by every
/// token, the best <see cref="BeamSearchOptions.BeamWidth"/> extensions survive, and the model's state rows are
/// reordered to match with <see cref="IDecodingState.Select"/>.
/// </summary>
public static class BeamSearch
{
    /// <summary>The best <see cref="BeamSearchOptions.NumReturn"/> hypotheses, best first.</summary>
    public static IReadOnlyList<BeamHypothesis> Search(ILanguageModel model, IReadOnlyList<int> prompt, BeamSearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        var vocabulary = model.VocabularySize;
        Checked.Tokens(prompt, vocabulary, 1, nameof(prompt));
        if (options.NumReturn > options.BeamWidth)
            throw new ArgumentException($"NumReturn ({options.NumReturn}) exceeds BeamWidth ({options.BeamWidth})", nameof(options.NumReturn));
        if (options.EndToken is { } end) Checked.Tokens([end], vocabulary, 1, nameof(options.EndToken));

        var width = options.BeamWidth;
        var device = TokenTensors.DeviceOf(model);
        var finished = new List<BeamHypothesis>();
        List<Beam> live = [new([], [], 0)];
        List<int> sources = [];

        using var noGrad = LibTorch.NoGrad();
        using var state = model.BeginDecoding(1);
        for (var length = 1; length <= options.MaxNewTokens; length++)
        {
            using var scope = DisposeScope.Enter();
            Tensor logits;   // [beams, V]
            if (length == 1)
                logits = model.Step(state, TokenTensors.Of(prompt, [1, prompt.Count], device));
            else
            {
                state.Select(TokenTensors.Of(sources, [sources.Count], device));
                logits = model.Step(state, TokenTensors.Of(live.Select(b => b.Tokens[^1]), [live.Count, 1], device));
            }

            // Candidate scores: each beam's log-probability plus each next token's, flattened to [beams · V].
            // 2·width of them leave width live extensions even if every beam's best is the end token.
            var logProbs = logits.To(ScalarType.Float64).LogSoftmax(-1);
            var beamScores = Tensor.FromArray(live.Select(b => b.LogProbability).ToArray(), [live.Count, 1], logits.Device);
            var (topScores, topIndices) = (beamScores + logProbs).View(-1).TopK(Math.Min(2 * width, live.Count * vocabulary));
            var scores = topScores.ToArray<double>();
            var indices = topIndices.ToArray<long>();

            var next = new List<Beam>(width);
            var nextSources = new List<int>(width);
            // Scores come sorted, and a score of −∞ is an extension of probability 0 (a model may rule tokens out,
            // as an unsmoothed n-gram does): it is no hypothesis, and carrying it would make later log-probs NaN.
            for (var rank = 0; rank < scores.Length && next.Count < width && !double.IsNegativeInfinity(scores[rank]); rank++)
            {
                var (source, token) = ((int)(indices[rank] / vocabulary), (int)(indices[rank] % vocabulary));
                var extended = live[source].Extend(token, scores[rank]);
                if (token == options.EndToken)
                {
                    // As in Hugging Face: an ended hypothesis counts only if it ranks among the best width.
                    if (rank < width) finished.Add(extended.Finish(options.LengthPenalty));
                    continue;
                }
                next.Add(extended);
                nextSources.Add(source);
            }
            live = next;
            sources = nextSources;
            if (live.Count == 0 || CannotImprove(finished, live, length, options)) break;
        }
        if (live.Count > 0 && (live[0].Tokens.Count == options.MaxNewTokens))
            finished.AddRange(live.Select(b => b.Finish(options.LengthPenalty)));
        return [.. finished.OrderByDescending(h => h.Score).Take(options.NumReturn)];
    }

    /// <summary>
    /// True once width hypotheses have ended and no live one can beat the worst of them. Extending only lowers a
    /// log-probability (it is ≤ 0), so a live beam's best possible score is its log-probability over the length
    /// that flatters it most: the longest for α > 0, the shortest (its current one) for α ≤ 0.
    /// </summary>
    private static bool CannotImprove(List<BeamHypothesis> finished, List<Beam> live, int length, BeamSearchOptions options)
    {
        if (finished.Count < options.BeamWidth) return false;
        var worstKept = finished.Select(h => h.Score).OrderDescending().ElementAt(options.BeamWidth - 1);
        var flattering = options.LengthPenalty > 0 ? options.MaxNewTokens : length;
        return live[0].LogProbability / Math.Pow(flattering, options.LengthPenalty) <= worstKept;
    }

    private sealed record Beam(IReadOnlyList<int> Tokens, IReadOnlyList<double> LogProbs, double LogProbability)
    {
        public Beam Extend(int token, double logProbability) =>
            new([.. Tokens, token], [.. LogProbs, logProbability - LogProbability], logProbability);

        public BeamHypothesis Finish(double lengthPenalty) =>
            new(Tokens, LogProbs, LogProbability, LogProbability / Math.Pow(Tokens.Count, lengthPenalty));
    }
}
