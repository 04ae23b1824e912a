using Microsoft.Extensions.DependencyInjection;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Tests.Grains;

public sealed class PlacementTests
{
    private static readonly SiloAddress A = new("10.0.0.1", 11111, 1);
    private static readonly SiloAddress B = new("10.0.0.2", 11111, 1);
    private static readonly SiloAddress C = new("10.0.0.3", 11111, 1);

    [Fact]
    public void RandomPlacementUsesEveryCandidateAndNothingElse()
    {
        var director = Director(B, Candidate(A), Candidate(B), Candidate(C));

        var chosen = Enumerable.Range(0, 300).Select(i => director.Place(Request(i, RandomPlacement.Instance))).ToArray();

        chosen.Distinct().Should().BeEquivalentTo([A, B, C]);
    }

    [Fact]
    public void PreferLocalChoosesTheLocalSiloWhenItIsACandidate()
    {
        Enumerable.Range(0, 50).Select(i => Director(B, Candidate(A), Candidate(B)).Place(Request(i, PreferLocalPlacement.Instance)))
            .Should().AllBeEquivalentTo(B);
        Enumerable.Range(0, 50).Select(i => Director(C, Candidate(A)).Place(Request(i, PreferLocalPlacement.Instance)))
            .Should().AllBeEquivalentTo(A, "a silo that takes no activations is not local-preferred");
    }

    [Fact]
    public void HashPlacementIsTheSameOnEverySiloAndSpreadsIds()
    {
        var fromA = Director(A, Candidate(A), Candidate(B), Candidate(C));
        var fromC = Director(C, Candidate(C), Candidate(A), Candidate(B));

        var placed = Enumerable.Range(0, 300).Select(i => (A: fromA.Place(Request(i, HashBasedPlacement.Instance)), C: fromC.Place(Request(i, HashBasedPlacement.Instance)))).ToArray();

        placed.Should().OnlyContain(p => p.A == p.C);
        placed.GroupBy(p => p.A).Select(g => g.Count()).Should().HaveCount(3).And.OnlyContain(n => n > 50);
    }

    [Fact]
    public void RoleConstraintPicksOnlySilosWithTheRoleAndAFreeDevice()
    {
        var director = Director(A, Candidate(A, devices: 4), Candidate(B, ["worker"], 0), Candidate(C, ["worker", "eval"], 1));

        Enumerable.Range(0, 50).Select(i => director.Place(Request(i, new SiloRolePlacement("worker", RequiresDevice: true)))).Should().AllBeEquivalentTo(C);
        Enumerable.Range(0, 100).Select(i => director.Place(Request(i, new SiloRolePlacement("worker", RequiresDevice: false)))).Distinct()
            .Should().BeEquivalentTo([B, C]);
        FluentActions.Invoking(() => director.Place(Request(1, new SiloRolePlacement("eval", RequiresDevice: false)))).Should().NotThrow();
        FluentActions.Invoking(() => director.Place(Request(1, new SiloRolePlacement("trainer", RequiresDevice: true))))
            .Should().Throw<GrainPlacementException>().WithMessage("no silo has role 'trainer' and a free device; cannot place *");
    }

    [Fact]
    public async Task LocalSiloPlacesDeviceGrainsOnlyWhileItHasFreeDevices()
    {
        await using var silo = await TestSilo.StartAsync(
            o => (o.IdleTimeout, o.CollectionQuantum) = (TimeSpan.FromMilliseconds(1), TimeSpan.FromHours(1)),
            s => s.AddSingleton<ILocalSiloDetails>(new LocalSiloDetails(new SiloAddress("127.0.0.1", 0, 1), ["worker"], devices: 1)));

        (await silo.Grains.GetGrain<IDeviceGrain>("rank0").Where()).Should().Be("rank0");
        await FluentActions.Awaiting(() => silo.Grains.GetGrain<IDeviceGrain>("rank1").Where())
            .Should().ThrowAsync<GrainPlacementException>().WithMessage("*'worker' and a free device*rank1*");
        await Task.Delay(5);
        (await silo.Runtime.CollectIdleActivationsAsync()).Should().Be(1);

        (await silo.Grains.GetGrain<IDeviceGrain>("rank1").Where()).Should().Be("rank1", "the first grain gave its device back");
    }

    [Fact]
    public async Task SiloWithoutTheRoleRefusesConstrainedGrains()
    {
        await using var silo = await TestSilo.StartAsync();

        await FluentActions.Awaiting(() => silo.Grains.GetGrain<IDeviceGrain>("rank0").Where()).Should().ThrowAsync<GrainPlacementException>();
    }

    private static PlacementDirector Director(SiloAddress local, params PlacementCandidate[] candidates) =>
        new(new FixedCandidates(candidates), new LocalSiloDetails(local));

    private static PlacementCandidate Candidate(SiloAddress silo, string[]? roles = null, int devices = 0) => new(silo, roles ?? [], devices);

    private static PlacementRequest Request(int key, PlacementStrategy strategy) => new(GrainId.Create(typeof(ICalculatorGrain), key), strategy);

    private sealed class FixedCandidates(IReadOnlyList<PlacementCandidate> candidates) : IPlacementCandidates
    {
        public IReadOnlyList<PlacementCandidate> GetCandidates() => candidates;
    }
}
