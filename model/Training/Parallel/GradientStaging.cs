using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training.Parallel;

/// <summary>
/// Copies a replica's gradients out as the parameter shards' slices, host arrays ready to push. From the CPU it reads the
/// gradients directly. From a GPU it gathers each shard's slice on the device and queues its copy into a page-locked host
/// buffer of that shard's (kept for the replica's life), then waits once: the copies run at DMA speed and overlap each other,
/// where a copy per parameter segment into pageable memory would wait on the device every time.
/// </summary>
internal sealed class GradientStaging(Device device, IReadOnlyList<long> shardLengths) : IDisposable
{
    private readonly Tensor?[] pinned = new Tensor?[shardLengths.Count];

    /// <summary>
    /// Shard k's slice of the gradients of <paramref name="parameters"/>, for every shard: the segments of
    /// <paramref name="segments"/>[k] side by side, zeros where a parameter has no gradient.
    /// </summary>
    public float[][] CopyOut(IReadOnlyList<Tensor> parameters, IReadOnlyList<ParameterSegment>[] segments)
    {
        using var scope = DisposeScope.Enter();
        var slices = new float[segments.Length][];
        if (device.Type == DeviceType.Cpu)
        {
            for (var k = 0; k < segments.Length; k++)
            {
                slices[k] = new float[shardLengths[k]];
                foreach (var segment in segments[k])
                    parameters[segment.Parameter].Grad?.Reshape(-1).Narrow(0, segment.Start, segment.Length)
                        .CopyTo<float>(slices[k].AsSpan((int)segment.ShardOffset, (int)segment.Length));
            }
            return slices;
        }

        for (var k = 0; k < segments.Length; k++)
        {
            var parts = segments[k].Select(segment => parameters[segment.Parameter].Grad is { } gradient
                ? gradient.Reshape(-1).Narrow(0, segment.Start, segment.Length)
                : Tensor.Zeros([segment.Length], device: device));
            PinnedBuffer(k).CopyFrom(Tensor.Cat([.. parts]), nonBlocking: true);  // [shard length]
        }
        LibTorch.Synchronize(device);
        for (var k = 0; k < segments.Length; k++) slices[k] = PinnedBuffer(k).ToArray<float>();
        return slices;
    }

    public void Dispose()
    {
        foreach (var buffer in pinned) buffer?.Dispose();
        Array.Clear(pinned);
    }

    private Tensor PinnedBuffer(int shard) =>
        pinned[shard] ??= Tensor.EmptyPinned([shardLengths[shard]]).DetachFromDisposeScope();
}
