using System.Runtime.InteropServices;

namespace OrleansLm.Benchmarks;

/// <summary>
/// Direct P/Invokes into the shim (libolmtorch.so, which the model project copies next to this
/// executable) on raw handles, bypassing <c>Tensor</c>, its SafeHandle marshaller and the dispose
/// scopes: the floor that the op-overhead breakdown subtracts from. Op codes mirror olm_torch.h.
/// </summary>
internal static partial class RawNative
{
    private const string Library = "olmtorch";

    public const int OpAdd = 0; // OLM_ADD
    public const int OpNeg = 0; // OLM_NEG

    [LibraryImport(Library, EntryPoint = "olm_dim")]
    public static partial long Dim(IntPtr t);

    [LibraryImport(Library, EntryPoint = "olm_dim")]
    [SuppressGCTransition]
    public static partial long DimNoGcTransition(IntPtr t);

    [LibraryImport(Library, EntryPoint = "olm_binary")]
    public static partial IntPtr Binary(int op, IntPtr a, IntPtr b, double alpha);

    [LibraryImport(Library, EntryPoint = "olm_unary")]
    public static partial IntPtr Unary(int op, IntPtr t, double param);

    [LibraryImport(Library, EntryPoint = "olm_free")]
    public static partial void Free(IntPtr t);
}

/// <summary>Reads the thread count of the OpenBLAS that libtorch's CPU GEMMs call.</summary>
internal static unsafe class OpenBlas
{
    /// <summary>OpenBLAS's thread count, or null if it is not loaded.</summary>
    public static int? TryGetThreads()
    {
        // libtorch_cpu links libblas.so.3 -> openblas-pthread/libblas.so.3, a thin wrapper over libopenblas.so.0
        // (one pool); the model library is already loaded, so this resolves to the instance it uses.
        if (!NativeLibrary.TryLoad("libopenblas.so.0", out var lib)) return null;
        if (!NativeLibrary.TryGetExport(lib, "openblas_get_num_threads", out var get)) return null;
        return ((delegate* unmanaged<int>)get)();
    }
}

/// <summary>A SafeHandle with no native resource: isolates the managed cost of creating and disposing one.</summary>
internal sealed class DummyHandle : SafeHandle
{
    public DummyHandle() : base(IntPtr.Zero, ownsHandle: true) => SetHandle(1);

    public override bool IsInvalid => handle == IntPtr.Zero;

    protected override bool ReleaseHandle() => true;
}

/// <summary>The same bookkeeping as <see cref="DummyHandle"/> in a plain class: no finalizer, no SafeHandle.</summary>
internal sealed class PlainWrapper : IDisposable
{
    private IntPtr handle = 1;

    public bool IsClosed => handle == IntPtr.Zero;

    public void Dispose() => handle = IntPtr.Zero;
}
