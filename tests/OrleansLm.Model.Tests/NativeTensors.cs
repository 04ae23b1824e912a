using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>Process-wide native state, read so that other tests cannot change it mid-measurement.</summary>
internal static class NativeTensors
{
    /// <summary>
    /// Runs the finalizers of tensors that earlier tests dropped without disposing. Otherwise the finalizer
    /// thread frees them whenever a GC happens, changing LiveTensorCount (and RSS) in the middle of a check.
    /// </summary>
    public static void Settle()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary><see cref="LibTorch.LiveTensorCount"/> once pending finalizers have run: a baseline to compare against.</summary>
    public static long SettledCount()
    {
        Settle();
        return LibTorch.LiveTensorCount;
    }
}
