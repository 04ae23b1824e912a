using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Nn;

/// <summary>
/// Masked multi-head self-attention ("Attention is all you need", §3.2): each of H heads computes
/// softmax(Q Kᵀ / √d_k + M) V over the positions at or before its own, with d_k = d / H; the heads are
/// concatenated and projected back to d. Q, K and V of all heads come from one [d → 3d] projection.
/// </summary>
public sealed class CausalSelfAttention : Module
{
    private readonly long heads;
    private readonly Dropout attentionDropout;
    private readonly Dropout residualDropout;

    public CausalSelfAttention(long modelDimension, long heads, double dropout = 0, bool bias = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(heads, 1, nameof(heads));
        if (modelDimension % heads != 0)
            throw new ArgumentException($"the model dimension ({modelDimension}) must be divisible by the number of heads ({heads})", nameof(heads));
        this.heads = heads;
        Qkv = RegisterModule("qkv", new Linear(modelDimension, 3 * modelDimension, bias));
        Projection = RegisterModule("projection", new Linear(modelDimension, modelDimension, bias));
        attentionDropout = RegisterModule("attention_dropout", new Dropout(dropout));
        residualDropout = RegisterModule("residual_dropout", new Dropout(dropout));
    }

    /// <summary>W_qkv: [d] → [3d], the queries, keys and values of every head side by side.</summary>
    public Linear Qkv { get; }

    /// <summary>W_O: the concatenated heads [d] → [d]; its output joins the residual stream.</summary>
    public Linear Projection { get; }

    /// <summary>
    /// Attends from the positions of <paramref name="x"/> [B, T, d]. With a <paramref name="cache"/>, x holds
    /// the T positions after the S already cached: their keys and values are appended and every query
    /// sees the cached positions plus those of x up to its own.
    /// </summary>
    public Tensor Forward(Tensor x, KeyValueCache? cache = null)
    {
        var (batch, time, d) = (x.Shape[0], x.Shape[1], x.Shape[2]);
        var past = cache?.Length ?? 0;
        var qkv = Qkv.Forward(x);                                    // [B, T, 3d]
        var q = SplitHeads(qkv.Narrow(2, 0, d));                     // [B, H, T, d_k]
        var k = SplitHeads(qkv.Narrow(2, d, d));
        var v = SplitHeads(qkv.Narrow(2, 2 * d, d));
        if (cache is not null) (k, v) = cache.Append(k, v);         // [B, H, S + T, d_k]

        var y = Functional.CausalAttention(q, k, v, past, Training ? attentionDropout.P : 0);  // [B, H, T, d_k]
        y = y.Transpose(1, 2).Reshape(batch, time, d);              // [B, T, d]: heads side by side
        return residualDropout.Forward(Projection.Forward(y));
    }

    // [B, T, d] → [B, H, T, d_k]
    private Tensor SplitHeads(Tensor x) => x.View(x.Shape[0], x.Shape[1], heads, -1).Transpose(1, 2);
}
