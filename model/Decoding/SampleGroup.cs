using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Decoding;

/// <summary>
/// One generation request: its <see cref="SamplingOptions.NumSamples"/> samples of one prompt, decoded as consecutive
/// rows of a decoding state that other groups may share. The group keeps its own options and <see cref="Random"/>
/// and picks its rows' tokens from its own slice of the logits, so its result does not depend on what else is
/// decoded beside it: <see cref="Generator"/> decodes one group alone, <see cref="GenerationBatcher"/> many at once.
/// </summary>
/// <remarks>Tokens are drawn on the host with the group's own <see cref="Random"/>; <see cref="Generator"/>'s remarks say why.</remarks>
internal sealed class SampleGroup
{
    private readonly SamplingOptions options;
    private readonly Random random;
    private readonly Action<StreamedToken>? onToken;
    private readonly CancellationToken cancellation;
    private readonly Sample[] samples;
    private readonly Generation[] results;
    private readonly TaskCompletionSource<IReadOnlyList<Generation>> completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // active[r] is the sample decoded in the group's row r; finished samples leave it.
    private List<int> active;

    /// <summary>Checks the request against the model's vocabulary; the errors name the caller's fields.</summary>
    public SampleGroup(ILanguageModel model, IReadOnlyList<int> prompt, SamplingOptions options,
        Action<StreamedToken>? onToken = null, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(options);
        Checked.Tokens(prompt, model.VocabularySize, 1, nameof(prompt));
        foreach (var stop in options.StopSequences) Checked.Tokens(stop, model.VocabularySize, 1, nameof(options.StopSequences));
        Prompt = [.. prompt];
        this.options = options;
        this.onToken = onToken;
        this.cancellation = cancellation;
        random = options.Seed is { } seed ? new Random(seed) : new Random();
        samples = [.. Enumerable.Range(0, options.NumSamples).Select(_ => new Sample(Prompt))];
        results = new Generation[samples.Length];
        active = [.. Enumerable.Range(0, samples.Length)];
    }

    public IReadOnlyList<int> Prompt { get; }

    /// <summary>Rows the group still holds in the decoding state.</summary>
    public int Rows => active.Count;

    /// <summary>The samples, once all have finished; cancelled or failed as the request was.</summary>
    public Task<IReadOnlyList<Generation>> Completion => completion.Task;

    /// <summary>
    /// Decodes <paramref name="groups"/>, whose prompts have one length, as one batch: the prompts in one [B, T]
    /// step, then one token per live row per step; finished rows leave the state. Returns once every group has
    /// completed. <paramref name="stopping"/> aborts the batch between steps, leaving the unfinished groups pending.
    /// </summary>
    public static void Decode(ILanguageModel model, IReadOnlyList<SampleGroup> groups, CancellationToken stopping = default)
    {
        var promptLength = groups[0].Prompt.Count;
        if (groups.Any(g => g.Prompt.Count != promptLength))
            throw new ArgumentException("the prompts of one batch must have one length", nameof(groups));
        var device = TokenTensors.DeviceOf(model);
        // live holds the groups with rows in the state, in the state's row order.
        var live = groups.ToList();
        var rows = live.Sum(g => g.Rows);

        using var noGrad = LibTorch.NoGrad();
        using var state = model.BeginDecoding(rows);
        for (var step = 0; live.Count > 0; step++)
        {
            stopping.ThrowIfCancellationRequested();
            using var scope = DisposeScope.Enter();
            var input = step == 0
                ? TokenTensors.Of(live.SelectMany(g => Enumerable.Repeat(g.Prompt, g.Rows).SelectMany(t => t)), [rows, promptLength], device)
                : TokenTensors.Of(live.SelectMany(g => g.active.Select(s => g.samples[s].Tokens[^1])), [rows, 1], device);
            var logits = model.Step(state, input);   // [rows, V]

            var keep = new List<int>(rows);
            var first = 0;
            foreach (var group in live)
            {
                var groupRows = group.Rows;
                keep.AddRange(group.Advance(logits.Narrow(0, first, groupRows)).Select(row => first + row));
                first += groupRows;
            }
            live.RemoveAll(g => g.Rows == 0);
            if (keep.Count == rows) continue;
            rows = keep.Count;
            if (rows > 0) state.Select(TokenTensors.Of(keep, [rows], device));
        }
    }

    /// <summary>Fails the request unless it has already completed.</summary>
    public void Fail(Exception error) => completion.TrySetException(error);

    /// <summary>Ends the request as cancelled, unless it has already completed.</summary>
    public void Cancel() => completion.TrySetCanceled(cancellation);

    /// <summary>
    /// Picks the next token of each of the group's rows from their logits [Rows, V] and returns the rows that go on
    /// decoding. A cancelled request, or one whose <c>onToken</c> throws, ends here and keeps no row.
    /// </summary>
    private List<int> Advance(Tensor logits)
    {
        if (cancellation.IsCancellationRequested)
        {
            Cancel();
            return End();
        }
        var filtered = LogitsFilters.Apply(logits, [.. active.Select(s => samples[s].Context)], options);
        var tokens = options.IsGreedy ? filtered.ArgMax(-1).ToArray<long>() : SampleRows(filtered, random);
        var chosen = Tensor.FromArray(tokens, [tokens.Length, 1], logits.Device);
        var logProbs = logits.To(ScalarType.Float64).LogSoftmax(-1).Gather(-1, chosen).ToArray<double>();

        var keep = new List<int>(active.Count);
        for (var row = 0; row < active.Count; row++)
        {
            var index = active[row];
            var sample = samples[index];
            sample.Append((int)tokens[row], logProbs[row]);
            var finished = sample.Finish(options);
            if (finished is null) keep.Add(row);
            else results[index] = finished;
            try
            {
                if (onToken is not null) sample.Stream(index, finished, options.StopSequences, onToken);
            }
            catch (Exception e)
            {
                Fail(e);
                return End();
            }
        }
        active = [.. keep.Select(row => active[row])];
        if (active.Count == 0) completion.TrySetResult(results);
        return keep;
    }

    private List<int> End()
    {
        active = [];
        return [];
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
        private int streamed;

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

        /// <summary>
        /// Hands <paramref name="onToken"/> the tokens that have become certain: all of the result once the sample
        /// has <paramref name="finished"/>; before that, all but the longest suffix that begins a stop sequence,
        /// since only those tokens can still turn out to be a stop sequence and be left out.
        /// </summary>
        public void Stream(int sample, Generation? finished, IReadOnlyList<IReadOnlyList<int>> stops, Action<StreamedToken> onToken)
        {
            var certain = finished?.Tokens.Count ?? tokens.Count - LongestStopPrefixSuffix(stops);
            for (; streamed < certain; streamed++) onToken(new StreamedToken(sample, tokens[streamed], logProbs[streamed]));
        }

        private int LongestStopPrefixSuffix(IReadOnlyList<IReadOnlyList<int>> stops)
        {
            // A suffix as long as a whole stop sequence would have finished the sample, so only shorter ones count.
            for (var length = Math.Min(tokens.Count, stops.Select(s => s.Count - 1).DefaultIfEmpty(0).Max()); length > 0; length--)
                if (stops.Any(stop => stop.Count > length && tokens[^length..].SequenceEqual(stop.Take(length))))
                    return length;
            return 0;
        }

        private Generation Result(int count, FinishReason reason) => new(tokens[..count], logProbs[..count], reason);
    }
}
