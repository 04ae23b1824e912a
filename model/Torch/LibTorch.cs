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

    /// <summary>Whether this libtorch was built with CUDA and sees at least one device.</summary>
    public static bool IsCudaAvailable => CudaDeviceCount > 0;

    /// <summary>
    /// Whether cuBLAS and cuDNN may run Float32 matrix products in TF32 (10-bit mantissa, tensor cores), process-wide as
    /// torch.backends.cuda.matmul.allow_tf32; off by default, as in PyTorch. No effect on the CPU.
    /// </summary>
    public static bool AllowTF32
    {
        get => Native.olm_allow_tf32() != 0;
        set => Native.Check(Native.olm_set_allow_tf32(value ? 1 : 0));
    }

    /// <summary>Waits for the kernels queued on <paramref name="device"/> (CUDA runs them asynchronously); nothing to wait for on the CPU.</summary>
    public static void Synchronize(Device device)
    {
        if (device.Type == DeviceType.Cuda) Native.Check(Native.olm_cuda_synchronize(device.Index));
    }

    /// <summary>
    /// Runs eligible operations on <paramref name="deviceType"/> in <paramref name="dtype"/> (matrix products, attention)
    /// and keeps precision-sensitive ones in Float32 until disposed, as torch.autocast. Per thread, like
    /// <see cref="NoGrad"/>: dispose it on the thread that entered it, and run backward outside it.
    /// </summary>
    public static AutocastScope Autocast(DeviceType deviceType, ScalarType dtype = ScalarType.BFloat16) => new(deviceType, dtype);

    /// <summary>Whether the calling thread is inside an <see cref="Autocast"/> region for <paramref name="deviceType"/>.</summary>
    public static bool IsAutocastEnabled(DeviceType deviceType)
    {
        var enabled = Native.olm_autocast_enabled((int)deviceType);
        if (enabled < 0) throw new TorchException(Native.LastError());
        return enabled == 1;
    }

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

/// <summary>Leaves an autocast region, restoring the thread's previous autocast state, when disposed.</summary>
public readonly struct AutocastScope : IDisposable
{
    private readonly DeviceType deviceType;
    private readonly int previousEnabled;
    private readonly int previousDtype;

    internal AutocastScope(DeviceType deviceType, ScalarType dtype)
    {
        this.deviceType = deviceType;
        Native.Check(Native.olm_autocast_enter((int)deviceType, (int)dtype, out previousEnabled, out previousDtype));
    }

    public void Dispose() => Native.Check(Native.olm_autocast_exit((int)deviceType, previousEnabled, previousDtype));
}
