namespace OrleansLm.Silo.Grains;

/// <summary>
/// The silo's GPUs as workers hold them: a worker on a GPU claims the lowest free one for as long as it is active, so
/// two replicas never share a device. The runtime's placement already keeps a silo's device-holding activations within
/// Cluster:Devices; this says which device each one has.
/// </summary>
public sealed class GpuLeases(int gpus)
{
    private readonly bool[] held = new bool[gpus >= 0 ? gpus : throw new ArgumentOutOfRangeException(nameof(gpus), gpus, "a silo cannot have a negative number of GPUs")];

    public int Count => held.Length;

    /// <summary>The GPU index claimed, lowest first.</summary>
    /// <exception cref="InvalidOperationException">Every GPU is held (Cluster:Devices exceeds the GPUs), or there are none.</exception>
    public int Claim()
    {
        lock (held)
        {
            var free = Array.IndexOf(held, false);
            if (free < 0)
                throw new InvalidOperationException(held.Length == 0
                    ? "this silo has no GPU to hold (libtorch sees no CUDA device)"
                    : $"all {held.Length} GPUs of this silo are held by other workers; set Cluster:Devices to at most the GPU count");
            held[free] = true;
            return free;
        }
    }

    /// <summary>Gives <paramref name="gpu"/> back; giving back a GPU not held is a bug and throws.</summary>
    public void Release(int gpu)
    {
        lock (held)
        {
            if (gpu < 0 || gpu >= held.Length || !held[gpu])
                throw new InvalidOperationException($"GPU {gpu} is not held");
            held[gpu] = false;
        }
    }
}
