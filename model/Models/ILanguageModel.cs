using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Models;

/// <summary>
/// What trainers, decoders and the cluster need from any language model (an n-gram model through
/// <see cref="NGramLanguageModel"/>). Every family reads token ids [B, T] and predicts, at each position t,
/// the token at t + 1 from the tokens at ≤ t (fixed-window and n-gram models see only their last n − 1 of them).
/// </summary>
public interface ILanguageModel : IDisposable
{
    int VocabularySize { get; }

    long ParameterCount { get; }

    /// <summary>
    /// The most tokens a prediction can see (a Transformer's block size), or null when unlimited. Forward takes
    /// at most this many positions; decoding past it slides the window, and scorers window long texts.
    /// </summary>
    int? ContextLength { get; }

    /// <summary>The model's trainable tensors, in a stable order (the flat parameter vector's order).</summary>
    IEnumerable<Tensor> Parameters();

    /// <summary>Logits [B, T, V] for token ids [B, T] (Int64).</summary>
    Tensor Forward(Tensor tokens);

    /// <summary>Mean cross-entropy of <see cref="Forward"/>'s predictions against <paramref name="targets"/> [B, T].</summary>
    Tensor Loss(Tensor tokens, Tensor targets);

    /// <summary>Starts incremental decoding for <paramref name="batchSize"/> sequences.</summary>
    IDecodingState BeginDecoding(int batchSize);

    /// <summary>
    /// Feeds <paramref name="tokens"/> [B, T] (a prompt, or one new token per sequence) after what the state
    /// has seen, and returns the logits [B, V] for the next token. Equals the last row of Forward on the
    /// whole sequence (on its last <see cref="ContextLength"/> tokens, past that). Runs without gradients; put
    /// the model in eval mode first so dropout is off.
    /// </summary>
    Tensor Step(IDecodingState state, Tensor tokens);

    /// <summary>Training FLOPs per token at the given context length: 6N + attention (PaLM appendix B).</summary>
    double FlopsPerToken(int contextLength);
}

/// <summary>What a model carries between decoding steps (KV cache, hidden state, window).</summary>
public interface IDecodingState : IDisposable
{
    /// <summary>Tokens fed so far per sequence.</summary>
    int Length { get; }

    /// <summary>
    /// Keeps the rows named by <paramref name="rows"/> [B'] (Int64), in that order: beam search's reorder. Rows may
    /// repeat and B' may differ from B.
    /// </summary>
    void Select(Tensor rows);
}
