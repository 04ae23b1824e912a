using OrleansLm.Silo.Grains;

namespace OrleansLm.Integration.Tests;

/// <summary>The leases that tell each worker which of its silo's GPUs it holds.</summary>
public class GpuLeasesTests
{
    [Fact]
    public void TheLowestFreeGpuIsHandedOutAndTakenBack()
    {
        var leases = new GpuLeases(3);
        (leases.Claim(), leases.Claim(), leases.Claim()).Should().Be((0, 1, 2));
        FluentActions.Invoking(leases.Claim).Should().Throw<InvalidOperationException>().WithMessage("all 3 GPUs of this silo are held*Cluster:Devices*");
        leases.Release(1);
        leases.Claim().Should().Be(1, "a released GPU is the lowest free one");
        leases.Release(0);
        FluentActions.Invoking(() => leases.Release(0)).Should().Throw<InvalidOperationException>().WithMessage("GPU 0 is not held");
        FluentActions.Invoking(() => leases.Release(3)).Should().Throw<InvalidOperationException>();
        FluentActions.Invoking(new GpuLeases(0).Claim).Should().Throw<InvalidOperationException>().WithMessage("*no GPU*");
        FluentActions.Invoking(() => new GpuLeases(-1)).Should().Throw<ArgumentOutOfRangeException>();
    }
}
