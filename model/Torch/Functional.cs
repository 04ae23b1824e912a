namespace OrleansLm.Model.Torch;

/// <summary>How a loss reduces over elements; values are libtorch's at::Reduction codes.</summary>
public enum Reduction
{
    None = 0,
    Mean = 1,
    Sum = 2,
}

/// <summary>Neural-network functions (PyTorch's <c>torch.nn.functional</c>).</summary>
public static class Functional
{
    /// <summary>x Wᵀ + b, with x [..., in], W [out, in], b [out].</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null) => Tensor.Wrap(Native.olm_linear(x, weight, bias));

    /// <summary>Rows of <paramref name="weight"/> [V, d] picked by Int64 <paramref name="indices"/>; -1 = no padding row.</summary>
    public static Tensor Embedding(Tensor weight, Tensor indices, long paddingIndex = -1) =>
        Tensor.Wrap(Native.olm_embedding(weight, indices, paddingIndex));

    public static unsafe Tensor LayerNorm(Tensor x, ReadOnlySpan<long> normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        fixed (long* p = normalizedShape)
            return Tensor.Wrap(Native.olm_layer_norm(x, p, normalizedShape.Length, weight, bias, eps));
    }

    /// <summary>Zeroes elements with probability p and scales the rest by 1/(1−p) when training.</summary>
    public static Tensor Dropout(Tensor x, double p, bool training) => Tensor.Wrap(Native.olm_dropout(x, p, training ? 1 : 0));

    /// <summary>
    /// Masked attention softmax(Q Kᵀ / √d_k + M) V of <paramref name="q"/> [B, H, T, d_k] over <paramref name="k"/> and
    /// <paramref name="v"/> [B, H, S + T, d_k], M hiding from query i (at position <paramref name="past"/> + i) the keys
    /// after it; dropout <paramref name="dropout"/> on the attention weights. With no past, libtorch 2 runs it as one
    /// fused kernel (flash attention on CUDA); [B, H, T, d_k].
    /// </summary>
    public static Tensor CausalAttention(Tensor q, Tensor k, Tensor v, long past = 0, double dropout = 0) =>
        Tensor.Wrap(Native.olm_causal_attention(q, k, v, past, dropout));

    /// <summary>Cross-entropy of logits [N, C] (or [C]) against Int64 class targets [N].</summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, Reduction reduction = Reduction.Mean, long ignoreIndex = -100, double labelSmoothing = 0) =>
        Tensor.Wrap(Native.olm_cross_entropy(logits, target, (long)reduction, ignoreIndex, labelSmoothing));
}
