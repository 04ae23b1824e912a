using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>The numeric format of a run's forward pass (training.precision).</summary>
public enum Precision
{
    /// <summary>Float32 throughout.</summary>
    Fp32,

    /// <summary>
    /// The forward pass under autocast, as torch.autocast(dtype=torch.bfloat16): matrix products and attention in
    /// BFloat16, reductions, normalisation and the loss in Float32. Parameters, gradients and optimizer state stay Float32.
    /// </summary>
    Bf16,
}

/// <summary>Where a run's model, activations and optimizer state live (training.device), and its forward pass's precision.</summary>
public static class TrainingDevices
{
    public const string Auto = "auto";

    /// <summary>
    /// The device training.device names on a process that sees <paramref name="cudaDevices"/> CUDA devices: cpu; cuda,
    /// the GPU the caller holds (<paramref name="claimedGpu"/>, e.g. a worker's) or else the first; cuda:N; or auto, which
    /// is cuda when there is a GPU and cpu otherwise.
    /// </summary>
    /// <exception cref="ConfigException">The setting is malformed, or names a GPU this process does not have.</exception>
    public static Device Resolve(string setting, int cudaDevices, int? claimedGpu = null)
    {
        var requested = Parse(setting);
        if (requested is null) return cudaDevices > 0 ? Device.Cuda(claimedGpu ?? 0) : Device.Cpu;
        var device = requested.Value;
        if (device.Type == DeviceType.Cpu) return device;
        if (cudaDevices == 0)
            throw new ConfigException($"training.device: {setting} needs a CUDA device, but this libtorch sees none (a CPU-only build, or no GPU visible); use cpu or auto");
        if (device.Index < 0) return Device.Cuda(claimedGpu ?? 0);
        if (device.Index >= cudaDevices)
            throw new ConfigException($"training.device: {setting} names GPU {device.Index}, but this machine has {cudaDevices} (cuda:0 … cuda:{cudaDevices - 1})");
        return device;
    }

    /// <summary>
    /// The device a run trains on in this process (<see cref="Resolve"/>), with training.tf32 applied when it is a GPU:
    /// libtorch's TF32 switch is process-wide, so the run that starts last on a process sets it.
    /// </summary>
    public static Device Prepare(TrainingSection training, int? claimedGpu = null)
    {
        var device = Resolve(training.Device, LibTorch.CudaDeviceCount, claimedGpu);
        if (device.Type == DeviceType.Cuda) LibTorch.AllowTF32 = training.Tf32;
        return device;
    }

    /// <summary>training.device as written: a device, or null for auto.</summary>
    /// <exception cref="ConfigException">Neither cpu, cuda, cuda:N nor auto.</exception>
    public static Device? Parse(string setting)
    {
        if (string.Equals(setting?.Trim(), Auto, StringComparison.OrdinalIgnoreCase)) return null;
        try
        {
            return Device.Parse(setting!);
        }
        catch (Exception e) when (e is FormatException or ArgumentNullException)
        {
            throw new ConfigException($"training.device: '{setting}' is not a device: expected cpu, cuda, cuda:N or auto", e);
        }
    }

    /// <summary>The device a model's <paramref name="parameters"/> are on (the CPU for none).</summary>
    public static Device DeviceOf(IEnumerable<Tensor> parameters) => parameters.FirstOrDefault()?.Device ?? Device.Cpu;

    /// <summary>The autocast region a forward pass in <paramref name="precision"/> on <paramref name="device"/> runs in; none for Float32.</summary>
    public static AutocastScope? ForwardPass(Device device, Precision precision) =>
        precision == Precision.Bf16 ? LibTorch.Autocast(device.Type, ScalarType.BFloat16) : null;
}
