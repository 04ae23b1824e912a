using System.Runtime.InteropServices;
using System.Runtime.InteropServices.Marshalling;

namespace OrleansLm.Model.Torch;

/// <summary>
/// A libtorch tensor. Owns one native reference, released by <see cref="SafeHandle.Dispose()"/>, by the
/// <see cref="DisposeScope"/> it was created in, or (as a last resort) by the finalizer.
/// </summary>
[NativeMarshalling(typeof(TensorMarshaller))]
public sealed partial class Tensor : SafeHandle
{
    private Tensor(IntPtr handle) : base(IntPtr.Zero, ownsHandle: true)
    {
        SetHandle(handle);
        DisposeScope.Register(this);
    }

    internal DisposeScope? Scope { get; set; }

    internal int ScopeSlot { get; set; }

    public override bool IsInvalid => handle == IntPtr.Zero;

    /// <summary>Takes this tensor out of its dispose scope: the caller now owns it (model parameters, state).</summary>
    public Tensor DetachFromDisposeScope() => Scope?.Detach(this) ?? this;

    /// <summary>Hands this tensor to the scope enclosing its own (a result that outlives a loop body).</summary>
    public Tensor MoveToOuterDisposeScope() => Scope?.MoveToOuter(this) ?? this;

    public long Dim => Native.olm_dim(this);

    public long NumElements => Native.olm_numel(this);

    public ScalarType DType => (ScalarType)Native.olm_dtype(this);

    public unsafe long[] Shape
    {
        get
        {
            Span<long> buffer = stackalloc long[16];
            long rank;
            fixed (long* sizes = buffer) rank = Native.olm_sizes(this, sizes, buffer.Length);
            if (rank <= buffer.Length) return buffer[..(int)rank].ToArray();
            var shape = new long[rank];
            fixed (long* sizes = shape) Native.olm_sizes(this, sizes, rank);
            return shape;
        }
    }

    public Device Device
    {
        get
        {
            Native.Check(Native.olm_device(this, out var type, out var index));
            return new Device((DeviceType)type, index);
        }
    }

    public bool IsContiguous => Native.olm_is_contiguous(this) != 0;

    public bool IsLeaf => Native.olm_is_leaf(this) != 0;

    public bool RequiresGrad
    {
        get => Native.olm_requires_grad(this) != 0;
        set => Native.Check(Native.olm_set_requires_grad(this, value ? 1 : 0));
    }

    /// <summary>The accumulated gradient, or null before any backward pass reached this tensor.</summary>
    public Tensor? Grad
    {
        get
        {
            Native.Check(Native.olm_grad(this, out var grad));
            return grad == IntPtr.Zero ? null : new Tensor(grad);
        }
        set => Native.Check(Native.olm_set_grad(this, value));
    }

    /// <summary>Drops the gradient (PyTorch's zero_grad(set_to_none=True)).</summary>
    public void ZeroGrad() => Grad = null;

    public void Backward(Tensor? gradient = null, bool retainGraph = false) =>
        Native.Check(Native.olm_backward(this, gradient, retainGraph ? 1 : 0));

    public Tensor Detach() => Wrap(Native.olm_detach(this));

    /// <summary>
    /// Replaces this tensor's data (shape, dtype, device may change) while keeping its identity, as
    /// PyTorch's <c>param.data = ...</c>: modules and optimizers holding this tensor see the new data.
    /// </summary>
    public void SetData(Tensor data) => Native.Check(Native.olm_set_data(this, data));

    public Tensor Clone() => Wrap(Native.olm_clone(this));

    public Tensor To(ScalarType dtype) => To(dtype, Device);

    public Tensor To(Device device) => To(DType, device);

    public Tensor To(ScalarType dtype, Device device) =>
        Wrap(Native.olm_to(this, (int)dtype, (int)device.Type, device.Index));

    /// <summary>The value of a one-element tensor.</summary>
    public double ToDouble()
    {
        Native.Check(Native.olm_item_double(this, out var value));
        return value;
    }

    /// <summary>The value of a one-element integer tensor.</summary>
    public long ToInt64()
    {
        Native.Check(Native.olm_item_long(this, out var value));
        return value;
    }

    /// <summary>Copies the elements, in row-major order, into a new array (from any device).</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var result = new T[NumElements];
        CopyTo<T>(result);
        return result;
    }

    public unsafe void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        var expected = ScalarTypes.Of<T>();
        if (DType != expected)
            throw new TorchException($"cannot copy a {DType} tensor into a {typeof(T).Name} buffer ({expected} expected)");
        fixed (T* data = destination)
            Native.Check(Native.olm_copy_to_host(this, data, (long)destination.Length * sizeof(T)));
    }

    /// <summary>The raw little-endian bytes of the elements in row-major order (any dtype).</summary>
    internal unsafe byte[] ToBytes()
    {
        var bytes = new byte[NumElements * ScalarTypes.ElementSize(DType)];
        fixed (byte* data = bytes) Native.Check(Native.olm_copy_to_host(this, data, bytes.Length));
        return bytes;
    }

    public override string ToString() =>
        IsClosed ? "Tensor(disposed)" : $"Tensor[{string.Join(", ", Shape)}] {DType} {Device}";

    protected override bool ReleaseHandle()
    {
        Native.olm_free(handle);
        return true;
    }

    internal static Tensor Wrap(IntPtr handle) =>
        handle == IntPtr.Zero ? throw new TorchException(Native.LastError()) : new Tensor(handle);

    internal static (Tensor Values, Tensor Indices) WrapPair(int status, IntPtr values, IntPtr indices)
    {
        Native.Check(status);
        return (new Tensor(values), new Tensor(indices));
    }

    internal static ObjectDisposedException DisposedError() =>
        new(nameof(Tensor), "the tensor was used after it was disposed (by Dispose or by the end of its DisposeScope)");
}
