namespace OrleansLm.Model.Torch;

/// <summary>Process-wide libtorch settings and diagnostics.</summary>
public static class LibTorch
{
    /// <summary>The libtorch version the shim was built against.</summary>
    public static string Version => System.Runtime.InteropServices.Marshal.PtrToStringUTF8(Native.olm_version()) ?? "";

    /// <summary>Native tensor handles currently alive in this process (a leak detector).</summary>
    public static long LiveTensorCount => Native.olm_live_tensors();

    /// <summary>Intra-op threads libtorch uses for CPU kernels.</summary>
    public static int NumThreads
    {
        get => Native.olm_get_num_threads();
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(NumThreads));
            Native.Check(Native.olm_set_num_threads(value));
        }
    }

    public static int CudaDeviceCount => Math.Max(0, Native.olm_cuda_device_count());

    public static bool IsGradEnabled => Native.olm_grad_enabled() != 0;

    /// <summary>Seeds libtorch's generators (CPU and CUDA) for reproducible randn, dropout and sampling.</summary>
    public static void ManualSeed(ulong seed) => Native.Check(Native.olm_manual_seed(seed));

    /// <summary>The CPU generator's state (a Byte tensor), for checkpoints that resume bit-exactly.</summary>
    public static Tensor GetRngState() => Tensor.Wrap(Native.olm_get_rng_state());

    /// <summary>Restores a state from <see cref="GetRngState"/>; a malformed state is refused by libtorch.</summary>
    public static void SetRngState(Tensor state) => Native.Check(Native.olm_set_rng_state(state));

    /// <summary>
    /// Disables gradient recording until disposed. libtorch's grad mode is per thread, so the scope
    /// must be disposed on the thread that entered it: do not await inside it.
    /// </summary>
    public static GradModeScope NoGrad() => new(enabled: false);

    /// <summary>
    /// Enables gradient recording until disposed (torch.enable_grad), whatever the thread's mode was: for code that must
    /// record a graph on a thread it does not own. Per thread, like <see cref="NoGrad"/>.
    /// </summary>
    public static GradModeScope EnableGrad() => new(enabled: true);
}

/// <summary>Restores the previous gradient mode when disposed.</summary>
public readonly struct GradModeScope : IDisposable
{
    private readonly bool previous;

    internal GradModeScope(bool enabled) => previous = Native.olm_set_grad_enabled(enabled ? 1 : 0) != 0;

    public void Dispose() => Native.olm_set_grad_enabled(previous ? 1 : 0);
}
