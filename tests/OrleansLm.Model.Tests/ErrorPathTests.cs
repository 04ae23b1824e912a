using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Failures surface as the right exception type with libtorch's own message, leave no native handle
/// behind, and leave the process able to compute correctly afterwards.
/// </summary>
[Collection(NativeStateCollection.Name)]
public class ErrorPathTests
{
    // ---- shapes ----

    [Fact]
    public void MatmulOfIncompatibleShapes()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Zeros([2, 3]);
        var b = Tensor.Zeros([4, 5]);

        ExpectTorchError(() => a.Matmul(b), "*shapes cannot be multiplied (2x3 and 4x5)*");
    }

    [Fact]
    public void ViewToTheWrongNumberOfElements()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Zeros([2, 3]);

        ExpectTorchError(() => a.View(4, 2), "*shape '[4, 2]' is invalid for input of size 6*");
    }

    [Fact]
    public void CatOfMismatchedShapes()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Zeros([2, 3]);
        var b = Tensor.Zeros([2, 4]);

        ExpectTorchError(() => Tensor.Cat([a, b]), "*Sizes of tensors must match except in dimension 0*Expected size 3 but got size 4*");
    }

    [Fact]
    public void CrossEntropyWithATargetOfTheWrongBatchSize()
    {
        using var scope = DisposeScope.Enter();
        var logits = Tensor.Zeros([4, 5]);
        var target = Tensor.Zeros([3], ScalarType.Int64);

        ExpectTorchError(() => Functional.CrossEntropy(logits, target), "*Expected input batch_size (4) to match target batch_size (3)*");
    }

    [Fact]
    public void BroadcastOfIncompatibleShapes()
    {
        using var scope = DisposeScope.Enter();
        var a = Tensor.Zeros([2, 3]);
        var b = Tensor.Zeros([4]);

        ExpectTorchError(() => a.Add(b), "*size of tensor a (3) must match the size of tensor b (4) at non-singleton dimension 1*");
    }

    [Fact]
    public void BackwardWithAGradientOfTheWrongShape()
    {
        using var scope = DisposeScope.Enter();
        var x = Tensor.Ones([3], requiresGrad: true);
        var y = x * 2.0;
        var wrongGradient = Tensor.Ones([4]);

        ExpectTorchError(() => y.Backward(wrongGradient), "*invalid gradient at index 0 - got [4] but expected shape compatible with [3]*");
        ExpectTorchError(() => y.Backward(), "*grad can be implicitly created only for scalar outputs*");
        x.Grad.Should().BeNull("a failed backward must not accumulate anything");
    }

    [Fact]
    public void IndexOutOfRange()
    {
        using var scope = DisposeScope.Enter();
        var x = Tensor.Zeros([3, 4]);
        var index = Tensor.FromArray<long>([7L], [1, 1]);
        var target = Tensor.FromArray<long>(0, 1, 9);

        ExpectTorchError(() => x.Select(0, 5), "*index 5 out of range*");
        ExpectTorchError(() => x.Gather(1, index), "*index 7 is out of bounds for dimension 1 with size 4*");
        ExpectTorchError(() => Functional.CrossEntropy(x, target), "*Target 9 is out of bounds*");
    }

    [Fact]
    public void FromArrayRejectsAShapeThatDoesNotHoldTheData()
    {
        ExpectTorchError(() => Tensor.FromArray<float>([1, 2, 3], [2, 2]), "*holds 4 elements but 3 were given*");
    }

    // ---- dtypes ----

    [Fact]
    public void EmbeddingWithFloatIndices()
    {
        using var scope = DisposeScope.Enter();
        var weight = Tensor.Randn([5, 2]);
        var indices = Tensor.FromArray<float>(0, 1, 2);

        ExpectTorchError(() => Functional.Embedding(weight, indices), "*'indices'*Long, Int*Float*");
    }

    [Fact]
    public void CrossEntropyWithFloatClassIndices()
    {
        // Float targets are only valid as class probabilities of the logits' shape; [N] floats are not.
        using var scope = DisposeScope.Enter();
        var logits = Tensor.Zeros([4, 5]);
        var target = Tensor.FromArray<float>(0, 1, 2, 3);

        ExpectTorchError(() => Functional.CrossEntropy(logits, target), "*expected scalar type Long but found Float*");
    }

    [Fact]
    public void ToArrayOfTheWrongElementType()
    {
        using var scope = DisposeScope.Enter();
        var longs = Tensor.Arange(0, 4);
        var floats = Tensor.Zeros([2]);

        ExpectTorchError(() => longs.ToArray<float>(), "*Int64*Single*");
        ExpectTorchError(() => floats.ToArray<double>(), "*Float32*Double*");
        longs.ToArray<long>().Should().Equal(0, 1, 2, 3);
    }

    [Fact]
    public void CopyToABufferOfTheWrongLength()
    {
        using var scope = DisposeScope.Enter();
        var x = Tensor.Zeros([3]);

        ExpectTorchError(() => x.CopyTo<float>(new float[2]), "*12 bytes*8*");
    }

    [Fact]
    public void ToDoubleOfAMultiElementTensor()
    {
        using var scope = DisposeScope.Enter();
        var x = Tensor.Zeros([3]);

        ExpectTorchError(() => x.ToDouble(), "*3 elements cannot be converted to Scalar*");
    }

    [Fact]
    public void IntegerTensorsCannotRequireGrad()
    {
        ExpectTorchError(() => Tensor.Zeros([2], ScalarType.Int64, requiresGrad: true), "*floating point*dtype can require gradients*");
    }

    // ---- autograd misuse ----

    [Fact]
    public void InPlaceOpOnALeafThatRequiresGradOutsideNoGrad()
    {
        using var scope = DisposeScope.Enter();
        var x = Tensor.FromArray<float>([1, 2, 3], [3], requiresGrad: true);
        var step = Tensor.FromArray<float>(1, 1, 1);

        ExpectTorchError(() => x.AddInPlace(1.0), "*a leaf Variable that requires grad is being used in an in-place operation*");
        ExpectTorchError(() => x.SubInPlace(step, 0.5), "*a leaf Variable that requires grad is being used in an in-place operation*");
        x.ToArray<float>().Should().Equal([1, 2, 3], "a rejected in-place op must not change the tensor");

        using (LibTorch.NoGrad())
        {
            x.AddInPlace(1.0).SubInPlace(step, 0.5);
        }
        x.ToArray<float>().Should().Equal(1.5f, 2.5f, 3.5f);
        x.RequiresGrad.Should().BeTrue();
        x.IsLeaf.Should().BeTrue();
        LibTorch.IsGradEnabled.Should().BeTrue("NoGrad restores grad mode when disposed");
    }

    [Fact]
    public void AssigningAGradientOfTheWrongShapeIsRejected()
    {
        // PyTorch rejects `x.grad = g` when g's size differs from x's ("assigned grad has data of a
        // different size"); an optimizer step p -= lr * p.Grad would otherwise broadcast silently.
        using var scope = DisposeScope.Enter();
        var x = Tensor.Zeros([3], requiresGrad: true);
        var wrong = Tensor.Ones([1]);

        var assign = () => { x.Grad = wrong; };

        assign.Should().Throw<TorchException>().WithMessage("*size*");
        x.Grad.Should().BeNull();
    }

    // ---- disposed tensors ----

    [Fact]
    public void UseAfterDispose()
    {
        var before = NativeTensors.SettledCount();
        var x = Tensor.FromArray<float>(1, 2, 3);
        using var other = Tensor.FromArray<float>(1, 1, 1);
        x.Dispose();

        ExpectDisposed(() => x.Add(other));
        ExpectDisposed(() => other.Add(x));
        ExpectDisposed(() => x.ToArray<float>());
        ExpectDisposed(() => x.Shape);
        x.ToString().Should().Be("Tensor(disposed)");
        other.ToArray<float>().Should().Equal(1, 1, 1);
        other.Dispose();
        LibTorch.LiveTensorCount.Should().Be(before);
        AssertProcessStillComputes();
    }

    [Fact]
    public void UseAfterItsDisposeScopeEnded()
    {
        Tensor escaped;
        using (DisposeScope.Enter())
        {
            escaped = Tensor.FromArray<float>(1, 2, 3) * 2.0;
            escaped.ToArray<float>().Should().Equal(2, 4, 6);
        }

        escaped.IsClosed.Should().BeTrue();
        ExpectDisposed(() => escaped.Sum());
        ExpectDisposed(() => escaped.ToDouble());
        AssertProcessStillComputes();
    }

    [Fact]
    public void CatOrStackContainingADisposedTensor()
    {
        var before = NativeTensors.SettledCount();
        var alive = Tensor.FromArray<float>(1, 2);
        var disposed = Tensor.FromArray<float>(3, 4);
        disposed.Dispose();

        ExpectDisposed(() => Tensor.Cat([alive, disposed]));
        ExpectDisposed(() => Tensor.Stack([alive, disposed, alive]));

        // The references Cat took on the live tensor were released: it still works, and disposing it frees it.
        using (var cat = Tensor.Cat([alive, alive])) cat.ToArray<float>().Should().Equal(1, 2, 1, 2);
        alive.Dispose();
        alive.IsClosed.Should().BeTrue();
        LibTorch.LiveTensorCount.Should().Be(before);
        AssertProcessStillComputes();
    }

    [Fact]
    public async Task ErrorsOnDifferentThreadsKeepTheirOwnMessages()
    {
        // olm_last_error is per thread: concurrent failures must not see each other's message.
        static void Fail(int iterations, Func<Tensor> failing, string expected)
        {
            for (var i = 0; i < iterations; i++)
            {
                var error = Assert.Throws<TorchException>(() => { using var _ = failing(); });
                error.Message.Should().Contain(expected);
            }
        }
        using var a = Tensor.Zeros([2, 3]);
        using var b = Tensor.Zeros([4, 5]);

        var matmul = Task.Factory.StartNew(() => Fail(300, () => a.Matmul(b), "shapes cannot be multiplied"), TaskCreationOptions.LongRunning);
        var view = Task.Factory.StartNew(() => Fail(300, () => a.View(7), "is invalid for input of size 6"), TaskCreationOptions.LongRunning);
        await Task.WhenAll(matmul, view);

        AssertProcessStillComputes();
    }

    [Fact]
    public void TransferToCudaFailsClearlyWithoutCuda()
    {
        using var scope = DisposeScope.Enter();
        var x = Tensor.FromArray<float>(1, 2, 3);
        if (LibTorch.CudaDeviceCount == 0)
        {
            ExpectTorchError(() => x.To(Device.Cuda()), "*CUDA*");
        }
        else
        {
            var back = x.To(Device.Cuda()).Mul(x.To(Device.Cuda())).To(Device.Cpu);
            back.ToArray<float>().Should().Equal(1, 4, 9);
        }
    }

    // ---- Device.Parse ----

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("gpu")]
    [InlineData("tpu:0")]
    [InlineData("cuda:")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    [InlineData("cuda:1:2")]
    [InlineData("cuda 0")]
    [InlineData("cpu:zero")]
    public void DeviceParseRejectsMalformedText(string text)
    {
        var parse = () => Device.Parse(text);

        parse.Should().Throw<FormatException>().Which.Message.Should().Contain(text.Trim().Length == 0 ? "device" : text);
    }

    [Fact]
    public void DeviceParseAcceptsWellFormedText()
    {
        Device.Parse("cpu").Should().Be(Device.Cpu);
        Device.Parse(" CPU ").Should().Be(Device.Cpu);
        Device.Parse("cuda:0").Should().Be(new Device(DeviceType.Cuda, 0));
        Device.Parse("CUDA:3").Should().Be(new Device(DeviceType.Cuda, 3));
        Device.Parse("cuda").Type.Should().Be(DeviceType.Cuda);
        var parseNull = () => Device.Parse(null!);
        parseNull.Should().Throw<ArgumentNullException>();
    }

    [Theory]
    [InlineData(DeviceType.Cpu, -1)]
    [InlineData(DeviceType.Cuda, 0)]
    [InlineData(DeviceType.Cuda, 2)]
    [InlineData(DeviceType.Cuda, -1)]
    public void DeviceToStringRoundTripsThroughParse(DeviceType type, int index)
    {
        // Device documents Index -1 as "the kind's current device" and prints it as "cuda", so
        // Parse("cuda") must give that device back, not cuda:0.
        var device = new Device(type, index);

        Device.Parse(device.ToString()).Should().Be(device);
    }

    // ---- helpers ----

    /// <summary>
    /// Runs a failing call and checks: TorchException with the expected (libtorch) message, no native
    /// handle created by the failed call, and the process still computing correctly afterwards.
    /// </summary>
    private static void ExpectTorchError(Action call, string messagePattern)
    {
        var before = NativeTensors.SettledCount();
        call.Should().Throw<TorchException>().WithMessage(messagePattern);
        LibTorch.LiveTensorCount.Should().Be(before, "a failed call must not leave a native tensor behind");
        AssertProcessStillComputes();
    }

    private static void ExpectDisposed(Func<object> call) =>
        call.Should().Throw<ObjectDisposedException>()
            .Which.Message.Should().Contain("used after it was disposed");

    /// <summary>A small forward and backward pass with hand-computed results; frees everything it makes.</summary>
    private static void AssertProcessStillComputes()
    {
        var before = NativeTensors.SettledCount();
        using (DisposeScope.Enter())
        {
            var a = Tensor.FromArray<float>([1, 2, 3, 4], [2, 2]);
            var b = Tensor.FromArray<float>([5, 6], [2, 1]);
            a.Matmul(b).ToArray<float>().Should().Equal(17, 39);

            var x = Tensor.FromArray<double>([3, -1], [2], requiresGrad: true);
            (x * x * x).Sum().Backward();
            x.Grad!.ToArray<double>().Should().Equal(27, 3);
        }
        LibTorch.LiveTensorCount.Should().Be(before);
    }
}
