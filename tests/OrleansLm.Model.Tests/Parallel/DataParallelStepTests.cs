using OrleansLm.Model.Training.Parallel;

namespace OrleansLm.Model.Tests.Parallel;

public sealed class DataParallelStepTests
{
    [Fact]
    public void TheStepLossWeighsEachReplicaByItsTargets()
    {
        DataParallelStep.Loss([(2.0, 30), (1.0, 10)]).Should().Be(1.75);
        var none = () => DataParallelStep.Loss([]);
        none.Should().Throw<ArgumentException>().WithMessage("no replica reported a loss*");
    }

    [Fact]
    public void ShardNormsCombineIntoTheGlobalNormAndOneClipCoefficient()
    {
        var (norm, coefficient) = DataParallelStep.Clipping([9.0, 16.0, 0.0], maxNorm: 1);
        norm.Should().Be(5);
        coefficient.Should().BeApproximately(1 / (5 + 1e-6), 1e-15, "torch's clip_grad_norm_ divides by norm + 1e-6");

        DataParallelStep.Clipping([0.25], maxNorm: 1).Coefficient.Should().Be(1, "a norm under the limit is not scaled");
        DataParallelStep.Clipping([100.0], maxNorm: 0).Should().Be((10.0, 1.0), "0 turns clipping off");
        double.IsNaN(DataParallelStep.Clipping([double.NaN], maxNorm: 1).Norm).Should().BeTrue();
        var negative = () => DataParallelStep.Clipping([1.0], maxNorm: -1);
        negative.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("maxNorm");
    }
}
