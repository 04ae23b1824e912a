using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Models;

/// <summary>How a position enters the residual stream.</summary>
public enum PositionEncoding
{
    /// <summary>A trained vector per position (GPT).</summary>
    Learned,

    /// <summary>The fixed sin/cos table of "Attention is all you need", §3.5.</summary>
    Sinusoidal,
}

/// <summary>Where each block normalises.</summary>
public enum NormPlacement
{
    /// <summary>x + f(LN(x)), with a final LayerNorm before the head (GPT-2).</summary>
    PreNorm,

    /// <summary>LN(x + f(x)), as the original Transformer; no final LayerNorm.</summary>
    PostNorm,
}

/// <summary>Hyper-parameters of <see cref="TransformerLm"/>.</summary>
public sealed record TransformerConfig(
    int VocabularySize,
    int BlockSize,
    int Layers,
    int Heads,
    int ModelDimension,
    double Dropout = 0,
    bool Bias = true,
    PositionEncoding Positions = PositionEncoding.Learned,
    NormPlacement Norm = NormPlacement.PreNorm,
    bool TiedEmbeddings = true)
{
    /// <summary>Throws an <see cref="ArgumentException"/> naming the first field out of range.</summary>
    public void Validate()
    {
        foreach (var (name, value) in new[]
                 {
                     (nameof(VocabularySize), VocabularySize), (nameof(BlockSize), BlockSize), (nameof(Layers), Layers),
                     (nameof(Heads), Heads), (nameof(ModelDimension), ModelDimension),
                 })
            if (value < 1) throw Invalid($"{name} must be at least 1, not {value}");
        if (ModelDimension % Heads != 0)
            throw Invalid($"{nameof(ModelDimension)} ({ModelDimension}) must be divisible by {nameof(Heads)} ({Heads})");
        if (Dropout is not (>= 0 and < 1)) throw Invalid($"{nameof(Dropout)} must be in [0, 1), not {Dropout}");
        if (!Enum.IsDefined(Positions)) throw Invalid($"{nameof(Positions)} {Positions} is not a position encoding");
        if (!Enum.IsDefined(Norm)) throw Invalid($"{nameof(Norm)} {Norm} is not a norm placement");
    }

    private static ArgumentException Invalid(string message) => new($"invalid transformer config: {message}", "config");
}

/// <summary>
/// A decoder-only Transformer language model in the manner of GPT-2 / nanoGPT:
/// h₀ = W_E[x] + P, h_l = Block(h_{l−1}) for l = 1 … N, logits = LN(h_N) W_Eᵀ (tied) or LN(h_N) W_U.
/// Each block is causal self-attention then a GELU MLP of width 4d, each with a residual connection.
/// Embeddings are not scaled by √d (as GPT-2, unlike the original paper).
/// </summary>
public sealed class TransformerLm : Module<Tensor, Tensor>, ILanguageModel
{
    /// <summary>σ of every weight at initialisation (GPT-2).</summary>
    public const double InitStd = 0.02;

    private readonly Embedding tokenEmbedding;
    private readonly Tensor positionTable;  // [block, d]: the learned embedding's weight or the sinusoidal buffer
    private readonly Dropout embeddingDropout;
    private readonly Block[] blocks;
    private readonly LayerNorm? finalNorm;
    private readonly Linear? head;

    public TransformerLm(TransformerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        Config = config;
        var d = config.ModelDimension;

        tokenEmbedding = RegisterModule("token_embedding", new Embedding(config.VocabularySize, d));
        positionTable = LearnedPositions
            ? RegisterModule("position_embedding", new Embedding(config.BlockSize, d)).Weight
            : RegisterBuffer("position_encoding", SinusoidalTable(config.BlockSize, d));
        embeddingDropout = RegisterModule("dropout", new Dropout(config.Dropout));
        blocks = [.. Enumerable.Range(0, config.Layers).Select(l => RegisterModule($"blocks.{l}", new Block(config)))];
        if (config.Norm == NormPlacement.PreNorm) finalNorm = RegisterModule("final_norm", new LayerNorm(d, bias: config.Bias));
        if (!config.TiedEmbeddings) head = RegisterModule("head", new Linear(d, config.VocabularySize, bias: false));

        using var noGrad = LibTorch.NoGrad();
        tokenEmbedding.Weight.NormalInPlace(0, InitStd);
        if (LearnedPositions) positionTable.NormalInPlace(0, InitStd);
        if (head is not null) Initialise(head, InitStd);
    }

    public TransformerConfig Config { get; }

    public int VocabularySize => Config.VocabularySize;

    public int? ContextLength => Config.BlockSize;

    private bool LearnedPositions => Config.Positions == PositionEncoding.Learned;

    /// <summary>Logits [B, T, V] for token ids [B, T], T ≤ block size.</summary>
    public override Tensor Forward(Tensor tokens)
    {
        CheckTokens(tokens, past: 0);
        return Logits(Hidden(tokens, past: 0, caches: null));
    }

    public Tensor Loss(Tensor tokens, Tensor targets) => NextTokenLoss.Of(this, tokens, targets);

    public IDecodingState BeginDecoding(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1, nameof(batchSize));
        return new DecodingState(this, batchSize);
    }

    /// <summary>
    /// Runs <paramref name="tokens"/> [B, T] through the blocks against the state's KV caches (without
    /// recording gradients) and returns the next-token logits [B, V]. The whole sequence must fit in the
    /// block: there is no sliding window, since learned positions would have to be recomputed for every
    /// shifted token; a decoder that wants longer outputs crops the context and starts a new state.
    /// </summary>
    /// <remarks>
    /// Past the block size, decoding slides its window as nanoGPT's generate crops idx[:, -block_size:]:
    /// the cache restarts from the last block_size tokens (positions from 0), so each further token costs a
    /// forward pass over the whole window instead of one cached position.
    /// </remarks>
    public Tensor Step(IDecodingState state, Tensor tokens)
    {
        if (state is not DecodingState own || own.Model != this)
            throw new ArgumentException("the decoding state was not begun by this model", nameof(state));
        CheckTokens(tokens, past: 0);
        if (tokens.Shape[0] != own.BatchSize)
            throw new ArgumentException($"tokens hold {tokens.Shape[0]} sequences, the decoding state {own.BatchSize}", nameof(tokens));
        using var noGrad = LibTorch.NoGrad();
        using var scope = DisposeScope.Enter();
        var time = (int)tokens.Shape[1];
        var window = own.Remember(tokens, Config.BlockSize);  // [B, ≤ block]
        Tensor hidden;
        if (own.Length + time <= Config.BlockSize)
        {
            hidden = Hidden(tokens, own.Length, own.Caches);  // [B, T, d]
            own.Length += time;
        }
        else
        {
            foreach (var cache in own.Caches) cache.Clear();
            hidden = Hidden(window, 0, own.Caches);           // [B, block, d]
            own.Length = (int)window.Shape[1];
        }
        return Logits(hidden.Select(1, hidden.Shape[1] - 1)).MoveToOuterDisposeScope();  // [B, V]
    }

    /// <summary>
    /// Training FLOPs per token, 6N + 12·L·H·Q·T (PaLM, appendix B), Q = d/H and T the context length.
    /// N counts the weights a token multiplies: the blocks, the final LayerNorm and the output head (V·d,
    /// tied or not). The embedding lookups cost no multiplications, so the token table (when untied) and
    /// the learned position table are left out — the same N as nanoGPT's get_num_params() for a tied model.
    /// </summary>
    public double FlopsPerToken(int contextLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(contextLength, 1, nameof(contextLength));
        var lookups = (head is null ? 0 : tokenEmbedding.Weight.NumElements) + (LearnedPositions ? positionTable.NumElements : 0);
        double n = ParameterCount - lookups;
        var c = Config;
        return 6 * n + 12.0 * c.Layers * c.Heads * (c.ModelDimension / c.Heads) * contextLength;
    }

    // [B, T] tokens at positions past … past + T − 1 → final hidden states [B, T, d]
    private Tensor Hidden(Tensor tokens, int past, KeyValueCache[]? caches)
    {
        var time = tokens.Shape[1];
        var x = embeddingDropout.Forward(tokenEmbedding.Forward(tokens) + positionTable.Narrow(0, past, time));  // [B, T, d]
        for (var l = 0; l < blocks.Length; l++) x = blocks[l].Forward(x, caches?[l]);
        return finalNorm?.Forward(x) ?? x;
    }

    // [..., d] → [..., V]
    private Tensor Logits(Tensor hidden) => head?.Forward(hidden) ?? Functional.Linear(hidden, tokenEmbedding.Weight);

    private void CheckTokens(Tensor tokens, int past)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        if (tokens.Dim != 2 || tokens.DType != ScalarType.Int64)
            throw new ArgumentException($"tokens must be Int64 [B, T], not {tokens.DType} [{string.Join(", ", tokens.Shape)}]", nameof(tokens));
        var time = tokens.Shape[1];
        if (time < 1) throw new ArgumentException("tokens must hold at least one position", nameof(tokens));
        if (past + time > Config.BlockSize)
            throw new ArgumentException(
                $"{past + time} positions ({past} decoded + {time} new) exceed the block size {Config.BlockSize}", nameof(tokens));
    }

    /// <summary>PE(pos, 2i) = sin(pos / 10000^(2i/d)), PE(pos, 2i + 1) = cos(pos / 10000^(2i/d)).</summary>
    private static Tensor SinusoidalTable(int positions, int d)
    {
        var table = new float[positions * d];
        for (var pos = 0; pos < positions; pos++)
            for (var column = 0; column < d; column++)
            {
                var angle = pos / Math.Pow(10000, (column - column % 2) / (double)d);
                table[pos * d + column] = (float)(column % 2 == 0 ? Math.Sin(angle) : Math.Cos(angle));
            }
        return Tensor.FromArray<float>(table, [positions, d]);
    }

    /// <summary>N(0, σ²) weights and zero biases, as nanoGPT's _init_weights.</summary>
    private static void Initialise(Linear linear, double std)
    {
        linear.Weight.NormalInPlace(0, std);
        linear.Bias?.Zero();
    }

    /// <summary>One Transformer layer: attention then MLP, each a residual branch.</summary>
    private sealed class Block : Module
    {
        private readonly bool preNorm;
        private readonly LayerNorm attentionNorm;
        private readonly CausalSelfAttention attention;
        private readonly LayerNorm mlpNorm;
        private readonly Mlp mlp;

        public Block(TransformerConfig config)
        {
            var d = config.ModelDimension;
            preNorm = config.Norm == NormPlacement.PreNorm;
            attentionNorm = RegisterModule("attention_norm", new LayerNorm(d, bias: config.Bias));
            attention = RegisterModule("attention", new CausalSelfAttention(d, config.Heads, config.Dropout, config.Bias));
            mlpNorm = RegisterModule("mlp_norm", new LayerNorm(d, bias: config.Bias));
            mlp = RegisterModule("mlp", new Mlp(config));

            // GPT-2: the projections into the residual stream start 1/√(2N) smaller, since 2N branches add up there.
            var residualStd = InitStd / Math.Sqrt(2.0 * config.Layers);
            using var noGrad = LibTorch.NoGrad();
            Initialise(attention.Qkv, InitStd);
            Initialise(attention.Projection, residualStd);
            Initialise(mlp.Expand, InitStd);
            Initialise(mlp.Contract, residualStd);
        }

        // [B, T, d] → [B, T, d]
        public Tensor Forward(Tensor x, KeyValueCache? cache)
        {
            if (preNorm)
            {
                x = x + attention.Forward(attentionNorm.Forward(x), cache);  // x + Attn(LN(x))
                return x + mlp.Forward(mlpNorm.Forward(x));                   // x + MLP(LN(x))
            }
            x = attentionNorm.Forward(x + attention.Forward(x, cache));       // LN(x + Attn(x))
            return mlpNorm.Forward(x + mlp.Forward(x));                       // LN(x + MLP(x))
        }
    }

    /// <summary>The position-wise feed-forward network: GELU(x W₁ + b₁) W₂ + b₂, through a hidden width of 4d.</summary>
    private sealed class Mlp : Module<Tensor, Tensor>
    {
        private readonly Dropout dropout;

        public Mlp(TransformerConfig config)
        {
            Expand = RegisterModule("expand", new Linear(config.ModelDimension, 4 * config.ModelDimension, config.Bias));
            Contract = RegisterModule("contract", new Linear(4 * config.ModelDimension, config.ModelDimension, config.Bias));
            dropout = RegisterModule("dropout", new Dropout(config.Dropout));
        }

        public Linear Expand { get; }

        /// <summary>The projection back into the residual stream.</summary>
        public Linear Contract { get; }

        // [B, T, d] → [B, T, 4d] → [B, T, d]
        public override Tensor Forward(Tensor x) => dropout.Forward(Contract.Forward(Expand.Forward(x).Gelu()));
    }

    /// <summary>One KV cache per block and the number of positions they hold.</summary>
    private sealed class DecodingState(TransformerLm model, int batchSize) : IDecodingState
    {
        private Tensor? history;  // the last ≤ block_size tokens fed, [B, L]

        public TransformerLm Model { get; } = model;

        public KeyValueCache[] Caches { get; } = [.. model.blocks.Select(_ => new KeyValueCache())];

        public int BatchSize { get; private set; } = batchSize;

        public int Length { get; set; }

        /// <summary>Appends <paramref name="tokens"/> to the history, keeps its last <paramref name="limit"/> positions and returns them.</summary>
        public Tensor Remember(Tensor tokens, int limit)
        {
            var all = history is null ? tokens : Tensor.Cat([history, tokens], dim: 1);
            var kept = all.Narrow(1, Math.Max(0, all.Shape[1] - limit), Math.Min(limit, all.Shape[1])).Contiguous();
            history?.Dispose();
            history = kept.Clone().DetachFromDisposeScope();
            return kept;
        }

        public void Select(Tensor rows)
        {
            ArgumentNullException.ThrowIfNull(rows);
            if (rows.Dim != 1 || rows.DType != ScalarType.Int64)
                throw new ArgumentException($"rows must be Int64 [B'], not {rows.DType} [{string.Join(", ", rows.Shape)}]", nameof(rows));
            if (rows.NumElements == 0 || rows.ToArray<long>().Any(row => row < 0 || row >= BatchSize))
                throw new ArgumentException($"rows must name at least one sequence, each in [0, {BatchSize})", nameof(rows));
            using var noGrad = LibTorch.NoGrad();
            foreach (var cache in Caches) cache.Select(rows);
            if (history is not null)
            {
                var selected = history.IndexSelect(0, rows).DetachFromDisposeScope();
                history.Dispose();
                history = selected;
            }
            BatchSize = (int)rows.Shape[0];
        }

        public void Dispose()
        {
            foreach (var cache in Caches) cache.Dispose();
            history?.Dispose();
        }
    }
}
