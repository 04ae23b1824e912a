using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

namespace OrleansLm.GatewayBench;

/// <summary>
/// <paramref name="model"/> decoded without its KV cache, the baseline of the cache's speed-up: each step runs the
/// model's <see cref="ILanguageModel.Forward"/> over the sequence so far (its last <see cref="ILanguageModel.ContextLength"/>
/// tokens, the window the cache slides to) and returns the last position's logits, as nanoGPT's generate does. Every
/// other member is the model's, so any decoder (<see cref="Model.Decoding.Generator"/>) runs the same loop on it as on
/// the model itself. The wrapper does not own the model: disposing it leaves the model to its owner.
/// </summary>
/// <remarks>
/// Forward computes the logits of every position, of which one is used; the output head is a small part of a step
/// (V·d of the model's multiplications per position), so that overstates the baseline's cost by little.
/// </remarks>
internal sealed class NoCacheDecoding(ILanguageModel model) : ILanguageModel
{
    public int VocabularySize => model.VocabularySize;

    public long ParameterCount => model.ParameterCount;

    public int? ContextLength => model.ContextLength;

    public IEnumerable<Tensor> Parameters() => model.Parameters();

    public Tensor Forward(Tensor tokens) => model.Forward(tokens);

    public Tensor Loss(Tensor tokens, Tensor targets) => model.Loss(tokens, targets);

    public double FlopsPerToken(int contextLength) => model.FlopsPerToken(contextLength);

    public IDecodingState BeginDecoding(int batchSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1, nameof(batchSize));
        return new History(batchSize);
    }

    public Tensor Step(IDecodingState state, Tensor tokens)
    {
        if (state is not History history) throw new ArgumentException("the decoding state was not begun by this wrapper", nameof(state));
        using var noGrad = LibTorch.NoGrad();
        using var scope = DisposeScope.Enter();
        var window = history.Append(tokens, model.ContextLength);   // [B, ≤ context]
        var logits = model.Forward(window);                           // [B, L, V]
        return logits.Select(1, logits.Shape[1] - 1).Contiguous().MoveToOuterDisposeScope();  // [B, V]
    }

    public void Dispose()
    {
    }

    /// <summary>The tokens fed so far, [B, L]: all the state a decoder without a cache has.</summary>
    private sealed class History(int batchSize) : IDecodingState
    {
        private Tensor? tokens;

        public int Length { get; private set; }

        /// <summary>Appends <paramref name="next"/> [B, T] and returns the last <paramref name="limit"/> (all when null) tokens fed.</summary>
        public Tensor Append(Tensor next, int? limit)
        {
            if (next.Dim != 2 || next.Shape[0] != batchSize)
                throw new ArgumentException($"tokens must be [{batchSize}, T], not [{string.Join(", ", next.Shape)}]", nameof(next));
            var all = tokens is null ? next : Tensor.Cat([tokens, next], dim: 1);
            var length = all.Shape[1];
            var kept = limit is { } context && length > context ? all.Narrow(1, length - context, context).Contiguous() : all;
            tokens?.Dispose();
            tokens = kept.Clone().DetachFromDisposeScope();
            Length += (int)next.Shape[1];
            return kept;
        }

        public void Select(Tensor rows)
        {
            if (tokens is null) throw new InvalidOperationException("no tokens have been fed to select rows of");
            var selected = tokens.IndexSelect(0, rows).DetachFromDisposeScope();
            tokens.Dispose();
            tokens = selected;
            batchSize = (int)rows.Shape[0];
        }

        public void Dispose() => tokens?.Dispose();
    }
}
