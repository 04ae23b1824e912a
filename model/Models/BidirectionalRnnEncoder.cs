using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Models;

public sealed record BidirectionalRnnEncoderConfig : RecurrentConfig;

/// <summary>
/// Contextual token embeddings from a bidirectional RNN: a forward pass h→_t over w_1..w_t and a backward
/// pass h←_t over w_T..w_t, concatenated per position. Every position sees the whole sequence, its future
/// included, so this is an encoder and deliberately not an <see cref="ILanguageModel"/>: it cannot generate.
/// </summary>
public sealed class BidirectionalRnnEncoder : Module
{
    public BidirectionalRnnEncoder(BidirectionalRnnEncoderConfig config)
    {
        config.Validate();
        Config = config;
        Embedding = RegisterModule("embedding", new Embedding(config.VocabularySize, config.EmbeddingSize));
        Rnn = RegisterModule("rnn", config.CreateRnn(bidirectional: true));
    }

    public BidirectionalRnnEncoderConfig Config { get; }

    public Embedding Embedding { get; }

    public Rnn Rnn { get; }

    /// <summary>Size of each contextual embedding: 2H.</summary>
    public long OutputSize => 2L * Config.HiddenSize;

    /// <summary>Tokens [B, T] → [h→_t ; h←_t] [B, T, 2H].</summary>
    public Tensor Encode(Tensor tokens)
    {
        ModelChecks.Tokens(tokens, nameof(tokens));
        using var scope = DisposeScope.Enter();
        var (output, _) = Rnn.Forward(Embedding.Forward(tokens));  // [B, T, E] → [B, T, 2H]
        return output.MoveToOuterDisposeScope();
    }
}
