using OrleansLm.Model.Optim;

namespace OrleansLm.Model.Tests;

public class LearningRateScheduleTests
{
    [Fact]
    public void ConstantIsTheSameAtEveryStep()
    {
        var schedule = new ConstantSchedule(3e-4);
        new long[] { 0, 1, 1000, long.MaxValue }.Select(schedule.LearningRateAt).Should().OnlyContain(lr => lr == 3e-4);
        var negative = () => schedule.LearningRateAt(-1);
        negative.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("step");
    }

    [Fact]
    public void StepMultipliesByGammaEveryStepSizeSteps()
    {
        var schedule = new StepSchedule(0.1, stepSize: 3, gamma: 0.5);
        Enumerable.Range(0, 8).Select(s => schedule.LearningRateAt(s))
            .Should().Equal(0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025);
    }

    [Fact]
    public void WarmupCosineFollowsNanoGptsGetLr()
    {
        const double max = 6e-4, min = 6e-5;
        var schedule = new WarmupCosineSchedule(max, min, warmupIters: 10, lrDecayIters: 110);
        schedule.LearningRateAt(0).Should().BeApproximately(max / 11, 1e-18);
        schedule.LearningRateAt(9).Should().BeApproximately(max * 10 / 11, 1e-18);
        schedule.LearningRateAt(10).Should().BeApproximately(max, 1e-18, "cos 0 = 1 at the end of warm-up");
        schedule.LearningRateAt(35).Should().BeApproximately(min + (0.5 + Math.Sqrt(2) / 4) * (max - min), 1e-18, "a quarter into the decay, cos(π/4)");
        schedule.LearningRateAt(60).Should().BeApproximately((max + min) / 2, 1e-18, "half-way, cos(π/2) = 0");
        schedule.LearningRateAt(110).Should().BeApproximately(min, 1e-18);
        schedule.LearningRateAt(111).Should().Be(min);
        schedule.LearningRateAt(1_000_000).Should().Be(min);

        var rates = Enumerable.Range(0, 120).Select(s => schedule.LearningRateAt(s)).ToArray();
        rates[..11].Should().BeInAscendingOrder();
        rates[10..].Should().BeInDescendingOrder();
    }

    [Fact]
    public void SchedulesRejectBadArgumentsNamingThem()
    {
        Action[] invalid =
        [
            () => _ = new ConstantSchedule(-1),
            () => _ = new StepSchedule(0.1, stepSize: 0, gamma: 0.5),
            () => _ = new StepSchedule(0.1, stepSize: 2, gamma: -0.5),
            () => _ = new WarmupCosineSchedule(1e-3, minLearningRate: 1e-2, 10, 100),
            () => _ = new WarmupCosineSchedule(1e-3, 1e-4, warmupIters: -1, 100),
            () => _ = new WarmupCosineSchedule(1e-3, 1e-4, 100, lrDecayIters: 100),
        ];
        string[] names = ["learningRate", "stepSize", "gamma", "minLearningRate", "warmupIters", "lrDecayIters"];
        for (var k = 0; k < invalid.Length; k++)
            invalid[k].Should().Throw<ArgumentOutOfRangeException>().WithParameterName(names[k]);
    }
}
