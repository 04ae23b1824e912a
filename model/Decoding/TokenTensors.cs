using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Decoding;

internal static class TokenTensors
{
    /// <summary>Where the model keeps its parameters, so token ids go there too (CPU for a model without any).</summary>
    public static Device DeviceOf(ILanguageModel model) => model.Parameters().FirstOrDefault()?.Device ?? Device.Cpu;

    /// <summary>Token ids (or row indices), row-major, as an Int64 tensor of the given shape.</summary>
    public static Tensor Of(IEnumerable<int> ids, ReadOnlySpan<long> shape, Device device) =>
        Tensor.FromArray(ids.Select(t => (long)t).ToArray(), shape, device);
}
