using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Runtime.GrainDirectory;

namespace OrleansLm.Runtime.Tests.Grains;

public sealed class StatelessWorkerTests
{
    [Fact]
    public async Task PoolGrowsWhileAllWorkersAreBusyUpToItsLimitAndNeverBeyond()
    {
        var directory = new InMemoryGrainDirectory();
        await using var silo = await TestSilo.StartAsync(register: s => s.AddSingleton<IGrainDirectory>(directory));
        var worker = silo.Grains.GetGrain<IWorkerGrain>(0);

        var first = worker.WaitAtGate();
        await Wait.UntilAsync(() => silo.Probe.InFlight == 1, "the first worker is busy");
        var second = worker.WaitAtGate();
        await Wait.UntilAsync(() => silo.Probe.InFlight == 2, "a second worker took the second call");
        var rest = Enumerable.Range(0, 10).Select(_ => worker.WaitAtGate()).ToArray();
        await Wait.UntilAsync(() => silo.Probe.InFlight == 3, "a third worker is busy");
        await Task.Delay(50);

        silo.Probe.Constructed.Should().Be(3);
        silo.Probe.InFlight.Should().Be(3);
        silo.Runtime.ActivationCount.Should().Be(3);
        silo.Probe.Gate.SetResult();
        var ids = await Task.WhenAll(rest.Prepend(second).Prepend(first)).WaitAsync(Wait.Bound);

        ids.Distinct().Should().HaveCount(3);
        silo.Probe.MaxInFlight.Should().Be(3);
        silo.Probe.Constructed.Should().Be(3);
        directory.Count.Should().Be(0, "stateless workers are never registered");
    }

    [Fact]
    public async Task SequentialCallsReuseOneIdleWorker()
    {
        await using var silo = await TestSilo.StartAsync();
        silo.Probe.Gate.SetResult();
        var worker = silo.Grains.GetGrain<IWorkerGrain>(0);

        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++) ids.Add(await worker.WaitAtGate());

        ids.Distinct().Should().ContainSingle();
        silo.Probe.Constructed.Should().Be(1);
    }
}
