using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Models;

public sealed record RnnLmConfig : RecurrentConfig
{
    /// <summary>Use the embedding matrix as the output layer's weight (Press &amp; Wolf 2017); needs EmbeddingSize = HiddenSize.</summary>
    public bool TieWeights { get; init; }

    public override void Validate()
    {
        base.Validate();
        if (TieWeights && EmbeddingSize != HiddenSize)
            throw new ArgumentException(
                $"{nameof(RnnLmConfig)}.{nameof(TieWeights)} needs {nameof(EmbeddingSize)} = {nameof(HiddenSize)} (got {EmbeddingSize} and {HiddenSize})",
                nameof(TieWeights));
    }
}

/// <summary>
/// A recurrent language model: x_t = E[w_t], h_t^(k) = cell(h_t^(k−1), h_{t−1}^(k)) over the stacked layers,
/// logits_t = W_o h_t^(L) + b_o, predicting w_{t+1} from everything up to t.
/// </summary>
public sealed class RnnLm : Module, IRecurrentLanguageModel
{
    public RnnLm(RnnLmConfig config)
    {
        config.Validate();
        Config = config;
        Embedding = RegisterModule("embedding", new Embedding(config.VocabularySize, config.EmbeddingSize));
        Rnn = RegisterModule("rnn", config.CreateRnn(bidirectional: false));
        if (config.TieWeights)
            HeadBias = RegisterParameter("head_bias", Tensor.Zeros([config.VocabularySize]));
        else
            Head = RegisterModule("head", new Linear(config.HiddenSize, config.VocabularySize));
    }

    public RnnLmConfig Config { get; }

    public int VocabularySize => Config.VocabularySize;

    public int? ContextLength => null;

    public Embedding Embedding { get; }

    public Rnn Rnn { get; }

    /// <summary>The output layer; null when tied to the embedding.</summary>
    public Linear? Head { get; }

    /// <summary>The output bias when the weight is tied to the embedding.</summary>
    public Tensor? HeadBias { get; }

    public Tensor Forward(Tensor tokens)
    {
        var (logits, state) = Forward(tokens, null);
        state.Dispose();
        return logits;
    }

    /// <summary>
    /// Logits [B, T, V] for tokens [B, T], continuing from <paramref name="state"/> (zeros when null), and the
    /// state after the last token. Truncated BPTT passes <c>state.Detach()</c> into the next segment.
    /// </summary>
    public (Tensor Logits, RnnState State) Forward(Tensor tokens, RnnState? state)
    {
        ModelChecks.Tokens(tokens, nameof(tokens));
        // The per-step intermediates go when this returns; the autograd graph keeps what backward needs.
        using var scope = DisposeScope.Enter();
        var x = Embedding.Forward(tokens);                 // [B, T, E]
        var (h, final) = Rnn.Forward(x, state);            // [B, T, H]
        var logits = Head?.Forward(h) ?? Functional.Linear(h, Embedding.Weight, HeadBias);  // [B, T, V]
        return (logits.MoveToOuterDisposeScope(), final.MoveToOuterDisposeScope());
    }

    public Tensor Loss(Tensor tokens, Tensor targets) => NextTokenLoss.Of(this, tokens, targets);

    public IDecodingState BeginDecoding(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1, nameof(batchSize));
        return new RnnDecodingState(batchSize);
    }

    public Tensor Step(IDecodingState state, Tensor tokens)
    {
        var decoding = ModelChecks.DecodingState<RnnDecodingState>(state, tokens, s => s.BatchSize);
        using var scope = DisposeScope.Enter();
        var (logits, next) = Forward(tokens, decoding.Hidden);  // [B, T, V]
        decoding.Advance(next, (int)tokens.Shape[1]);
        return logits.Select(1, tokens.Shape[1] - 1).MoveToOuterDisposeScope();  // [B, V]
    }

    /// <summary>6N, N counting the parameters in matrix products (the embedding lookup is none, unless tied as the head).</summary>
    public double FlopsPerToken(int contextLength) =>
        6.0 * (ParameterCount - (Head is null ? 0 : Embedding.Weight.NumElements));
}

/// <summary>An <see cref="RnnLm"/>'s decoding state: the hidden state after the tokens fed so far.</summary>
public sealed class RnnDecodingState : IDecodingState
{
    internal RnnDecodingState(int batchSize) => BatchSize = batchSize;

    public int Length { get; private set; }

    public int BatchSize { get; private set; }

    /// <summary>Null before the first step (the model starts from zeros).</summary>
    public RnnState? Hidden { get; private set; }

    public void Select(Tensor rows)
    {
        using var scope = DisposeScope.Enter();
        Replace(Hidden?.Select(rows));
        BatchSize = (int)rows.Shape[0];
    }

    public void Dispose() => Hidden?.Dispose();

    internal void Advance(RnnState next, int tokens)
    {
        Replace(next);
        Length += tokens;
    }

    private void Replace(RnnState? next)
    {
        next?.DetachFromDisposeScope();
        Hidden?.Dispose();
        Hidden = next;
    }
}
