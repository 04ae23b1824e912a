namespace OrleansLm.Model.Torch;

/// <summary>An error reported by libtorch (shape mismatch, wrong dtype, ...), carrying its message.</summary>
public sealed class TorchException(string message) : Exception(message);
