using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Models;

public sealed record FixedWindowLmConfig
{
    public required int VocabularySize { get; init; }

    /// <summary>n − 1: how many preceding tokens each prediction sees.</summary>
    public int ContextSize { get; init; } = 3;

    public int EmbeddingSize { get; init; } = 32;

    public int HiddenSize { get; init; } = 128;

    /// <summary>The hidden layer's nonlinearity: "tanh" (Bengio et al.) or "relu".</summary>
    public string Activation { get; init; } = "tanh";

    public void Validate()
    {
        const string config = nameof(FixedWindowLmConfig);
        ModelChecks.AtLeast(VocabularySize, 1, config, nameof(VocabularySize));
        ModelChecks.AtLeast(ContextSize, 1, config, nameof(ContextSize));
        ModelChecks.AtLeast(EmbeddingSize, 1, config, nameof(EmbeddingSize));
        ModelChecks.AtLeast(HiddenSize, 1, config, nameof(HiddenSize));
        _ = UsesRelu;
    }

    internal bool UsesRelu => Activation.Trim().ToLowerInvariant() switch
    {
        "tanh" => false,
        "relu" => true,
        _ => throw new ArgumentException(
            $"{nameof(FixedWindowLmConfig)}.{nameof(Activation)}: unknown activation '{Activation}' (expected tanh or relu)", nameof(Activation)),
    };
}

/// <summary>
/// Bengio et al. (2003)'s neural probabilistic language model: the embeddings of the previous n − 1 tokens,
/// concatenated, x = [C(w_{t−n+2}); …; C(w_t)], give h = tanh(W_h x + b_h) and logits = W_o h + b_o for w_{t+1}.
/// Positions before the start of the sequence read a learned padding token (embedding row V), so
/// position t sees the window w_{t−n+2}..w_t padded on the left.
/// </summary>
public sealed class FixedWindowLm : Module, ILanguageModel
{
    private readonly bool relu;

    public FixedWindowLm(FixedWindowLmConfig config)
    {
        config.Validate();
        Config = config;
        relu = config.UsesRelu;
        Embedding = RegisterModule("embedding", new Embedding(config.VocabularySize + 1, config.EmbeddingSize));
        Hidden = RegisterModule("hidden", new Linear((long)config.ContextSize * config.EmbeddingSize, config.HiddenSize));
        Head = RegisterModule("head", new Linear(config.HiddenSize, config.VocabularySize));
    }

    public FixedWindowLmConfig Config { get; }

    public int VocabularySize => Config.VocabularySize;

    /// <summary>Unlimited: every position reads its own window of n − 1 tokens.</summary>
    public int? ContextLength => null;

    /// <summary>The id of the padding token that fills the window before the sequence starts (= V).</summary>
    public long PaddingId => Config.VocabularySize;

    public Embedding Embedding { get; }

    public Linear Hidden { get; }

    public Linear Head { get; }

    public Tensor Forward(Tensor tokens)
    {
        ModelChecks.Tokens(tokens, nameof(tokens));
        using var scope = DisposeScope.Enter();
        var (batch, steps, context) = (tokens.Shape[0], tokens.Shape[1], Config.ContextSize);
        var padding = Tensor.Full([batch, context - 1], PaddingId, ScalarType.Int64, tokens.Device);
        var padded = Tensor.Cat([padding, tokens], dim: 1);  // [B, T + n − 2]
        // Window k (oldest first) of every position t is padded[t + k]: n − 1 shifted views, stacked.
        var windows = Tensor.Stack([.. Enumerable.Range(0, context).Select(k => padded.Narrow(1, k, steps))], dim: 2);  // [B, T, n − 1]
        return Logits(windows).MoveToOuterDisposeScope();
    }

    public Tensor Loss(Tensor tokens, Tensor targets) => NextTokenLoss.Of(this, tokens, targets);

    public IDecodingState BeginDecoding(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1, nameof(batchSize));
        var window = Tensor.Full([batchSize, Config.ContextSize], PaddingId, ScalarType.Int64, Embedding.Weight.Device);
        return new WindowDecodingState(window.DetachFromDisposeScope());
    }

    public Tensor Step(IDecodingState state, Tensor tokens)
    {
        var decoding = ModelChecks.DecodingState<WindowDecodingState>(state, tokens, s => s.Window.Shape[0]);
        using var scope = DisposeScope.Enter();
        var seen = Tensor.Cat([decoding.Window, tokens], dim: 1);                        // [B, n − 1 + T]
        var window = seen.Narrow(1, seen.Shape[1] - Config.ContextSize, Config.ContextSize).Contiguous();  // [B, n − 1]
        decoding.Advance(window, (int)tokens.Shape[1]);
        return Logits(decoding.Window).MoveToOuterDisposeScope();  // [B, V]
    }

    /// <summary>6N, N counting the parameters in matrix products (all but the embedding table).</summary>
    public double FlopsPerToken(int contextLength) => 6.0 * (ParameterCount - Embedding.Weight.NumElements);

    /// <summary>Windows of token ids [..., n − 1] → logits [..., V].</summary>
    private Tensor Logits(Tensor windows)
    {
        var x = Embedding.Forward(windows).Flatten(-2);  // [..., n − 1, E] → [..., (n − 1)·E]
        var preActivation = Hidden.Forward(x);          // [..., H]
        var h = relu ? preActivation.Relu() : preActivation.Tanh();
        return Head.Forward(h);                          // [..., V]
    }
}

/// <summary>A <see cref="FixedWindowLm"/>'s decoding state: the last n − 1 tokens of each sequence.</summary>
public sealed class WindowDecodingState : IDecodingState
{
    internal WindowDecodingState(Tensor window) => Window = window;

    public int Length { get; private set; }

    /// <summary>Token ids [B, n − 1], oldest first; the padding id before the sequence starts.</summary>
    public Tensor Window { get; private set; }

    public void Select(Tensor rows)
    {
        using var scope = DisposeScope.Enter();
        Replace(Window.IndexSelect(0, rows));
    }

    public void Dispose() => Window.Dispose();

    internal void Advance(Tensor window, int tokens)
    {
        Replace(window);
        Length += tokens;
    }

    private void Replace(Tensor window)
    {
        window.DetachFromDisposeScope();
        Window.Dispose();
        Window = window;
    }
}
