namespace OrleansLm.Model.Torch;

// Creation and combination of tensors (PyTorch's torch.zeros, torch.cat, ...).
public sealed partial class Tensor
{
    public static Tensor Zeros(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requiresGrad = false) =>
        Full(shape, 0, dtype, device, requiresGrad);

    public static Tensor Ones(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requiresGrad = false) =>
        Full(shape, 1, dtype, device, requiresGrad);

    /// <summary>
    /// An uninitialised host tensor in page-locked memory, which CUDA copies to and from directly (and without blocking);
    /// libtorch refuses it on a machine without CUDA.
    /// </summary>
    public static unsafe Tensor EmptyPinned(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32)
    {
        fixed (long* p = shape)
            return Wrap(Native.olm_empty_pinned(p, shape.Length, (int)dtype));
    }

    public static unsafe Tensor Full(ReadOnlySpan<long> shape, double value, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requiresGrad = false)
    {
        var d = device ?? Device.Cpu;
        fixed (long* p = shape)
            return Wrap(Native.olm_full(p, shape.Length, value, (int)dtype, (int)d.Type, d.Index, requiresGrad ? 1 : 0));
    }

    public static Tensor Arange(double start, double end, double step = 1, ScalarType dtype = ScalarType.Int64, Device? device = null)
    {
        var d = device ?? Device.Cpu;
        return Wrap(Native.olm_arange(start, end, step, (int)dtype, (int)d.Type, d.Index));
    }

    /// <summary>Samples from N(0, 1).</summary>
    public static unsafe Tensor Randn(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requiresGrad = false)
    {
        var d = device ?? Device.Cpu;
        fixed (long* p = shape)
            return Wrap(Native.olm_randn(p, shape.Length, (int)dtype, (int)d.Type, d.Index, requiresGrad ? 1 : 0));
    }

    /// <summary>Samples from U[0, 1).</summary>
    public static unsafe Tensor Rand(ReadOnlySpan<long> shape, ScalarType dtype = ScalarType.Float32, Device? device = null, bool requiresGrad = false)
    {
        var d = device ?? Device.Cpu;
        fixed (long* p = shape)
            return Wrap(Native.olm_rand(p, shape.Length, (int)dtype, (int)d.Type, d.Index, requiresGrad ? 1 : 0));
    }

    /// <summary>Uniform integers in [low, high), as Int64.</summary>
    public static unsafe Tensor Randint(long low, long high, ReadOnlySpan<long> shape, Device? device = null)
    {
        var d = device ?? Device.Cpu;
        fixed (long* p = shape) return Wrap(Native.olm_randint(low, high, p, shape.Length, (int)d.Type, d.Index));
    }

    /// <summary>Copies <paramref name="data"/> (row-major) into a new tensor of the given shape.</summary>
    public static unsafe Tensor FromArray<T>(ReadOnlySpan<T> data, ReadOnlySpan<long> shape, Device? device = null, bool requiresGrad = false)
        where T : unmanaged
    {
        long expected = 1;
        foreach (var size in shape) expected *= size;
        if (expected != data.Length)
            throw new TorchException($"shape [{string.Join(", ", shape.ToArray())}] holds {expected} elements but {data.Length} were given");
        var d = device ?? Device.Cpu;
        fixed (T* values = data)
        fixed (long* p = shape)
            return Wrap(Native.olm_from_host(values, p, shape.Length, (int)ScalarTypes.Of<T>(), (int)d.Type, d.Index, requiresGrad ? 1 : 0));
    }

    /// <summary>A tensor of <paramref name="dtype"/> from raw little-endian bytes in row-major order.</summary>
    internal static unsafe Tensor FromBytes(ReadOnlySpan<byte> data, ReadOnlySpan<long> shape, ScalarType dtype)
    {
        long expected = ScalarTypes.ElementSize(dtype);
        foreach (var size in shape) expected *= size;
        if (expected != data.Length)
            throw new TorchException($"{dtype} shape [{string.Join(", ", shape.ToArray())}] needs {expected} bytes but {data.Length} were given");
        fixed (byte* values = data)
        fixed (long* p = shape)
            return Wrap(Native.olm_from_host(values, p, shape.Length, (int)dtype, (int)DeviceType.Cpu, -1, 0));
    }

    /// <summary>A one-dimensional tensor holding <paramref name="data"/>.</summary>
    public static Tensor FromArray<T>(params ReadOnlySpan<T> data) where T : unmanaged => FromArray(data, [data.Length]);

    public static Tensor Cat(IReadOnlyList<Tensor> tensors, long dim = 0) => Combine(tensors, dim, stack: false);

    public static Tensor Stack(IReadOnlyList<Tensor> tensors, long dim = 0) => Combine(tensors, dim, stack: true);

    /// <summary>Element-wise choice: <paramref name="a"/> where <paramref name="condition"/> holds, else <paramref name="b"/>.</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b) => Wrap(Native.olm_where(condition, a, b));

    /// <summary>beta · bias + alpha · (a @ b).</summary>
    public static Tensor Addmm(Tensor bias, Tensor a, Tensor b, double beta = 1, double alpha = 1) =>
        Wrap(Native.olm_addmm(bias, a, b, beta, alpha));

    private static unsafe Tensor Combine(IReadOnlyList<Tensor> tensors, long dim, bool stack) =>
        WithHandles(tensors, handles =>
        {
            fixed (IntPtr* p = handles)
                return Wrap(stack ? Native.olm_stack(p, handles.Length, dim) : Native.olm_cat(p, handles.Length, dim));
        });

    /// <summary>
    /// Calls native code that takes an array of tensor handles: lists marshal by hand, so each element is
    /// checked and referenced here for the call's duration, as TensorMarshaller does for single arguments.
    /// </summary>
    internal static T WithHandles<T>(IReadOnlyList<Tensor> tensors, Func<IntPtr[], T> call)
    {
        var handles = new IntPtr[tensors.Count];
        var referenced = new bool[tensors.Count];
        try
        {
            for (var i = 0; i < tensors.Count; i++)
            {
                if (tensors[i].IsClosed) throw DisposedError();
                tensors[i].DangerousAddRef(ref referenced[i]);
                handles[i] = tensors[i].DangerousGetHandle();
            }
            return call(handles);
        }
        finally
        {
            for (var i = 0; i < tensors.Count; i++)
                if (referenced[i]) tensors[i].DangerousRelease();
        }
    }
}
