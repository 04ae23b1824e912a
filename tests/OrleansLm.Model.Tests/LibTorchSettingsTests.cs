using System.Runtime.InteropServices;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

[Collection(NativeStateCollection.Name)]
public class LibTorchSettingsTests
{
    [Fact]
    public void NumThreadsGovernsLibtorchAndTheOpenBlasGemmPool()
    {
        var before = LibTorch.NumThreads;
        try
        {
            foreach (var threads in new[] { 1, 2 })
            {
                LibTorch.NumThreads = threads;
                LibTorch.NumThreads.Should().Be(threads);
                OpenBlasThreads().Should().Be(threads, "Debian's libtorch runs matmul in OpenBLAS's own pool");
            }
        }
        finally
        {
            LibTorch.NumThreads = before;
        }
    }

    [Fact]
    public void NonPositiveThreadCountIsRefusedNamingTheSetting()
    {
        var set = () => LibTorch.NumThreads = 0;
        set.Should().Throw<ArgumentOutOfRangeException>().WithParameterName(nameof(LibTorch.NumThreads));
    }

    [Fact]
    public void ManualSeedMakesRandomStreamsRepeat()
    {
        using var scope = DisposeScope.Enter();
        LibTorch.ManualSeed(42);
        var first = Tensor.Randn([16]).ToArray<float>();
        var dropped = Functional.Dropout(Tensor.Ones([16]), 0.5, training: true).ToArray<float>();
        LibTorch.ManualSeed(42);
        Tensor.Randn([16]).ToArray<float>().Should().Equal(first);
        Functional.Dropout(Tensor.Ones([16]), 0.5, training: true).ToArray<float>().Should().Equal(dropped);
        Tensor.Randn([16]).ToArray<float>().Should().NotEqual(first);
    }

    [Fact]
    public void RestoringTheRngStateReplaysTheSameRandomStream()
    {
        using var scope = DisposeScope.Enter();
        LibTorch.ManualSeed(7);
        Tensor.Randn([5]);
        var state = LibTorch.GetRngState();
        var next = Tensor.Randn([8]).ToArray<float>();
        var dropped = Functional.Dropout(Tensor.Ones([32]), 0.5, training: true).ToArray<float>();
        LibTorch.ManualSeed(99);
        LibTorch.SetRngState(state);
        Tensor.Randn([8]).ToArray<float>().Should().Equal(next);
        Functional.Dropout(Tensor.Ones([32]), 0.5, training: true).ToArray<float>().Should().Equal(dropped);
    }

    [Fact]
    public void AMalformedRngStateIsRefused()
    {
        using var scope = DisposeScope.Enter();
        var set = () => LibTorch.SetRngState(Tensor.Zeros([3], ScalarType.Byte));
        set.Should().Throw<TorchException>().WithMessage("*size*");
    }

    // Read straight from the library libtorch loaded, independently of the shim.
    private static unsafe int OpenBlasThreads()
    {
        NativeLibrary.TryLoad("libopenblas.so.0", out var library).Should().BeTrue("setup installs libopenblas0-pthread");
        var get = (delegate* unmanaged<int>)NativeLibrary.GetExport(library, "openblas_get_num_threads");
        return get();
    }
}
