namespace OrleansLm.Model.Torch;

// libtorch's fused multi-layer recurrent kernels (the ops behind PyTorch's nn.RNN, nn.LSTM, nn.GRU).
public sealed partial class Tensor
{
    /// <summary>
    /// Runs <c>at::rnn_tanh</c>, <c>at::lstm</c> or <c>at::gru</c> over batch-first <paramref name="input"/>
    /// [B, T, in] from <paramref name="h0"/> (and <paramref name="c0"/> for an LSTM) [D·L, B, H].
    /// <paramref name="weights"/> lists w_ih, w_hh, b_ih, b_hh per layer and direction, in nn.LSTM's order.
    /// Returns the top layer's outputs [B, T, D·H] and the final states [D·L, B, H] (C only for an LSTM).
    /// </summary>
    public static unsafe (Tensor Output, Tensor H, Tensor? C) FusedRnn(
        FusedRnnMode mode, Tensor input, Tensor h0, Tensor? c0, IReadOnlyList<Tensor> weights,
        int numLayers, double dropout, bool train, bool bidirectional)
    {
        return WithHandles(weights, handles =>
        {
            IntPtr output, h, c;
            fixed (IntPtr* p = handles)
                Native.Check(Native.olm_rnn_fused(mode, input, h0, c0, p, handles.Length, numLayers, dropout,
                    train ? 1 : 0, bidirectional ? 1 : 0, out output, out h, out c));
            return (new Tensor(output), new Tensor(h), c == IntPtr.Zero ? null : new Tensor(c));
        });
    }
}
