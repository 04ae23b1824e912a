using OrleansLm.Model.Nn;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>
/// The shim's accelerator entry points as far as a machine without a GPU can check them: autocast regions (on the CPU,
/// whose autocast runs matrix products in BFloat16 as CUDA's does), the TF32 switch, copies, and the refusals that name
/// the missing CUDA device.
/// </summary>
[Collection(NativeStateCollection.Name)]
public class AcceleratorTests
{
    [Fact]
    public void AutocastRunsMatrixProductsInBFloat16InsideTheRegionOnly()
    {
        using var scope = DisposeScope.Enter();
        LibTorch.ManualSeed(3);
        var linear = new Linear(8, 4);
        var x = Tensor.Randn([2, 8]);

        LibTorch.IsAutocastEnabled(DeviceType.Cpu).Should().BeFalse();
        Tensor inside;
        using (LibTorch.Autocast(DeviceType.Cpu, ScalarType.BFloat16))
        {
            LibTorch.IsAutocastEnabled(DeviceType.Cpu).Should().BeTrue();
            inside = linear.Forward(x);
            inside.DType.Should().Be(ScalarType.BFloat16);
            (x + x).DType.Should().Be(ScalarType.Float32, "element-wise operations are not autocast");
        }
        LibTorch.IsAutocastEnabled(DeviceType.Cpu).Should().BeFalse();
        var outside = linear.Forward(x);
        outside.DType.Should().Be(ScalarType.Float32);

        // BFloat16 keeps 8 bits of mantissa: the products agree to about 2⁻⁸ of their size.
        var exact = outside.ToArray<float>();
        var rounded = inside.To(ScalarType.Float32).ToArray<float>();
        var scale = exact.Max(Math.Abs);
        for (var i = 0; i < exact.Length; i++) rounded[i].Should().BeApproximately(exact[i], 0.02f * scale);
        rounded.Should().NotEqual(exact, "a product in BFloat16 rounds some of its results");
    }

    [Fact]
    public void NestedAutocastRegionsRestoreTheOuterState()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Randn([3, 3]);
        using (LibTorch.Autocast(DeviceType.Cpu, ScalarType.BFloat16))
        {
            using (LibTorch.Autocast(DeviceType.Cpu, ScalarType.BFloat16))
                a.Matmul(a).DType.Should().Be(ScalarType.BFloat16);
            LibTorch.IsAutocastEnabled(DeviceType.Cpu).Should().BeTrue("the inner region restores the outer one, which is still open");
            a.Matmul(a).DType.Should().Be(ScalarType.BFloat16);
        }
        a.Matmul(a).DType.Should().Be(ScalarType.Float32);
    }

    [Fact]
    public void TheTf32SwitchRoundTrips()
    {
        var before = LibTorch.AllowTF32;
        try
        {
            LibTorch.AllowTF32 = !before;
            LibTorch.AllowTF32.Should().Be(!before);
            LibTorch.AllowTF32 = before;
            LibTorch.AllowTF32.Should().Be(before);
        }
        finally
        {
            LibTorch.AllowTF32 = before;
        }
    }

    [Fact]
    public void CopyFromConvertsAndCopiesWithOrWithoutBlocking()
    {
        using var scope = DisposeScope.Enter();
        var source = Tensor.FromArray<double>([1.5, -2, 3.25], [3]);
        foreach (var nonBlocking in new[] { false, true })
        {
            var destination = Tensor.Zeros([3]);
            destination.CopyFrom(source, nonBlocking);
            LibTorch.Synchronize(destination.Device);
            destination.ToArray<float>().Should().Equal(1.5f, -2f, 3.25f);
        }
    }

    [Fact]
    public void CausalAttentionEqualsTheMaskedSoftmaxOfScaledScores()
    {
        using var scope = DisposeScope.Enter();
        LibTorch.ManualSeed(11);
        const int past = 2, time = 3, keys = past + time, dk = 4;
        var q = Tensor.Randn([1, 2, time, dk]);
        var k = Tensor.Randn([1, 2, keys, dk]);
        var v = Tensor.Randn([1, 2, keys, dk]);
        var attended = Functional.CausalAttention(q, k, v, past).ToArray<float>();

        // Query i sits at position past + i and sees keys 0 … past + i.
        var (qs, ks, vs) = (q.ToArray<float>(), k.ToArray<float>(), v.ToArray<float>());
        for (var h = 0; h < 2; h++)
        for (var i = 0; i < time; i++)
        {
            var scores = Enumerable.Range(0, past + i + 1)
                .Select(j => Enumerable.Range(0, dk).Sum(c => (double)qs[(h * time + i) * dk + c] * ks[(h * keys + j) * dk + c]) / Math.Sqrt(dk))
                .ToArray();
            var weights = scores.Select(s => Math.Exp(s - scores.Max())).ToArray();
            for (var c = 0; c < dk; c++)
            {
                var expected = weights.Select((w, j) => w * vs[(h * keys + j) * dk + c]).Sum() / weights.Sum();
                attended[(h * time + i) * dk + c].Should().BeApproximately((float)expected, 1e-5f);
            }
        }
    }

    [Fact]
    public void CudaWorkIsRefusedWithLibtorchsReasonWhereThereIsNoCudaDevice()
    {
        // On a GPU machine the same calls succeed: there, the pinned buffer takes a device copy without blocking.
        using var scope = DisposeScope.Enter();
        if (LibTorch.IsCudaAvailable)
        {
            var pinned = Tensor.EmptyPinned([4]);
            var device = Tensor.Ones([4], device: Device.Cuda(0));
            pinned.CopyFrom(device, nonBlocking: true);
            LibTorch.Synchronize(Device.Cuda(0));
            pinned.ToArray<float>().Should().Equal(1f, 1f, 1f, 1f);
            return;
        }
        LibTorch.CudaDeviceCount.Should().Be(0);
        FluentActions.Invoking(() => Tensor.EmptyPinned([4])).Should().Throw<TorchException>();
        FluentActions.Invoking(() => Tensor.Zeros([4], device: Device.Cuda(0))).Should().Throw<TorchException>();
        FluentActions.Invoking(() => LibTorch.Synchronize(Device.Cuda(0))).Should().Throw<TorchException>();
        LibTorch.Synchronize(Device.Cpu);
    }

    [Fact]
    public void AutocastOnAnUnsupportedDeviceTypeIsRefused()
    {
        FluentActions.Invoking(() => LibTorch.Autocast((DeviceType)7)).Should().Throw<TorchException>().WithMessage("*neither CPU nor CUDA*");
        LibTorch.IsAutocastEnabled(DeviceType.Cpu).Should().BeFalse();
    }
}
