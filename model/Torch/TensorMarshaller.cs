using System.Runtime.InteropServices.Marshalling;

namespace OrleansLm.Model.Torch;

/// <summary>
/// Passes a <see cref="Tensor"/> to native code: refuses a disposed tensor with a clear message,
/// and holds a reference for the duration of the call so a concurrent Dispose cannot free it mid-call.
/// </summary>
[CustomMarshaller(typeof(Tensor), MarshalMode.ManagedToUnmanagedIn, typeof(ManagedToUnmanagedIn))]
internal static class TensorMarshaller
{
    internal ref struct ManagedToUnmanagedIn
    {
        private Tensor? tensor;
        private bool addedReference;

        public void FromManaged(Tensor? managed)
        {
            tensor = managed;
            if (managed is null) return;
            if (managed.IsClosed) throw Tensor.DisposedError();
            managed.DangerousAddRef(ref addedReference);
        }

        public readonly IntPtr ToUnmanaged() => tensor?.DangerousGetHandle() ?? IntPtr.Zero;

        public readonly void Free()
        {
            if (addedReference) tensor!.DangerousRelease();
        }
    }
}
