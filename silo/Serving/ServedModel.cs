using OrleansLm.Model.Decoding;
using OrleansLm.Model.Models;
using OrleansLm.Model.Text;

namespace OrleansLm.Silo.Serving;

/// <summary>
/// One loaded model with its tokenizer and batcher: generation, beam search and scoring on text, as the samplers and
/// the gateway ask for them. Errors in the caller's text name its field (prompt, stop, text).
/// </summary>
public sealed class ServedModel(string key, ILanguageModel model, ITokenizer tokenizer, long? runStep, GenerationBatcher batcher)
{
    private readonly object gate = new();
    private int leases;
    private bool retired;

    public string Key { get; } = key;

    public ILanguageModel Model { get; } = model;

    public ITokenizer Tokenizer { get; } = tokenizer;

    /// <summary>For a run's model, the step its parameters were exported at.</summary>
    public long? RunStep { get; } = runStep;

    public int[] Encode(string text, string field) => TextDecoding.Encode(Tokenizer, text, field);

    public string TokenText(int token) => Tokenizer.Decode([token]);

    /// <summary>Continuations of <paramref name="prompt"/>, decoded in a batch with the model's other concurrent requests.</summary>
    public Task<IReadOnlyList<Generation>> GenerateAsync(
        IReadOnlyList<int> prompt, SamplingOptions options, Action<StreamedToken>? onToken = null, CancellationToken cancellation = default) =>
        batcher.GenerateAsync(prompt, options, onToken, cancellation);

    public Task<IReadOnlyList<BeamHypothesis>> SearchAsync(IReadOnlyList<int> prompt, BeamSearchOptions options, CancellationToken cancellation = default) =>
        Task.Run(() => BeamSearch.Search(Model, prompt, options), cancellation);

    /// <summary>The tokens of <paramref name="text"/> (at least two) and the surprisal of each after the first (<see cref="TextDecoding.Score"/>).</summary>
    /// <param name="field">The caller's name for the text, which errors name.</param>
    public Task<(int[] Tokens, SequenceScore Score)> ScoreAsync(string text, string field, CancellationToken cancellation = default) =>
        Task.Run(() => TextDecoding.Score(Model, Tokenizer, text, field), cancellation);

    /// <summary>The most likely tokens at each position from <paramref name="start"/> on (<see cref="TokenAlternatives"/>).</summary>
    public Task<IReadOnlyList<IReadOnlyList<TokenLogProb>>> AlternativesAsync(IReadOnlyList<int> sequence, int start, int count, CancellationToken cancellation = default) =>
        Task.Run(() => TokenAlternatives.Compute(Model, sequence, start, count), cancellation);

    internal Lease Acquire()
    {
        lock (gate)
        {
            if (retired) throw new ObjectDisposedException(Key);
            leases++;
        }
        return new Lease(this);
    }

    /// <summary>Stops serving: the model is disposed once the calls that hold it have ended.</summary>
    internal async Task RetireAsync()
    {
        bool last;
        lock (gate)
        {
            retired = true;
            last = leases == 0;
        }
        if (last) await DisposeAsync();
    }

    private async Task ReleaseAsync()
    {
        bool last;
        lock (gate) last = --leases == 0 && retired;
        if (last) await DisposeAsync();
    }

    private async Task DisposeAsync()
    {
        await batcher.DisposeAsync();
        Model.Dispose();
    }

    /// <summary>A call's hold on the model: it stays loaded until every lease is disposed.</summary>
    public sealed class Lease(ServedModel model) : IAsyncDisposable
    {
        private int disposed;

        public ServedModel Model { get; } = model;

        public async ValueTask DisposeAsync()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) await Model.ReleaseAsync();
        }
    }
}
