using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

[Collection(NativeStateCollection.Name)]
public class TensorBasicsTests
{
    [Fact]
    public void CreationRoundTripsValuesShapeAndType()
    {
        using var t = Tensor.FromArray<float>([1, 2, 3, 4, 5, 6], [2, 3]);
        t.Shape.Should().Equal(2, 3);
        t.DType.Should().Be(ScalarType.Float32);
        t.Device.Should().Be(Device.Cpu);
        t.ToArray<float>().Should().Equal(1, 2, 3, 4, 5, 6);
        using var transposed = t.Transpose(0, 1).Contiguous();
        transposed.ToArray<float>().Should().Equal(1, 4, 2, 5, 3, 6);
    }

    [Fact]
    public void BackwardOfSumOfSquaresIsTwiceTheInput()
    {
        using var scope = DisposeScope.Enter();
        var x = Tensor.FromArray<double>([1.5, -2, 3], [3], requiresGrad: true);
        (x * x).Sum().Backward();
        x.Grad!.ToArray<double>().Should().Equal(3, -4, 6);
    }

    [Fact]
    public void ScopeFreesEverythingItCreatedExceptWhatMovesOut()
    {
        var before = NativeTensors.SettledCount();
        Tensor kept;
        using (var scope = DisposeScope.Enter())
        {
            var a = Tensor.Randn([4, 4]);
            var b = a.Matmul(a).Relu();
            kept = scope.MoveToOuter(b.Sum());
            a.IsClosed.Should().BeFalse();
        }
        LibTorch.LiveTensorCount.Should().Be(before + 1);
        kept.IsClosed.Should().BeFalse();
        kept.Dispose();
        LibTorch.LiveTensorCount.Should().Be(before);
    }

    [Fact]
    public void NestedScopesHandResultsOutwardAndFreeThemWithTheOuterScope()
    {
        var before = NativeTensors.SettledCount();
        Tensor fromInner;
        using (var outer = DisposeScope.Enter())
        {
            using (DisposeScope.Enter())
            {
                var x = Tensor.Ones([3]);
                fromInner = (x * 2).MoveToOuterDisposeScope();
            }
            LibTorch.LiveTensorCount.Should().Be(before + 1, "the inner scope freed everything but the moved result");
            fromInner.ToArray<float>().Should().Equal(2, 2, 2);
        }
        fromInner.IsClosed.Should().BeTrue("the outer scope owned the moved result");
        LibTorch.LiveTensorCount.Should().Be(before);
    }
}
