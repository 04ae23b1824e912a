using System.Runtime.InteropServices;

namespace OrleansLm.Model.Torch;

// P/Invokes of model/native/olm_rnn.h.
internal static unsafe partial class Native
{
    [LibraryImport(Library)]
    internal static partial int olm_rnn_fused(
        FusedRnnMode mode, Tensor input, Tensor h0, Tensor? c0, IntPtr* parameters, long parameterCount, long numLayers,
        double dropout, int train, int bidirectional, out IntPtr output, out IntPtr hN, out IntPtr cN);
}

/// <summary>libtorch's fused recurrent kernels; values mirror olm_rnn_mode.</summary>
public enum FusedRnnMode
{
    RnnTanh,
    Lstm,
    Gru,
}
