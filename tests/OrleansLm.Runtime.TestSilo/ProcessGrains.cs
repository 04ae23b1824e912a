using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.TestSilo;

public interface IPlacedGrain : IGrainWithStringKey
{
    /// <summary>The silo the activation runs on.</summary>
    Task<string> Where();

    /// <summary>Counts calls to this activation: a count that starts over shows a new activation.</summary>
    Task<int> Touch();
}

/// <summary>Lands only on silo processes (role <see cref="TestSiloHost.WorkerRole"/>), never on the test's own silo, which only calls.</summary>
[SiloRoleConstraint(TestSiloHost.WorkerRole)]
public sealed class PlacedGrain(ILocalSiloDetails silo) : Grain, IPlacedGrain
{
    private int touches;

    public Task<string> Where() => Task.FromResult(silo.Address.ToString());

    public Task<int> Touch() => Task.FromResult(++touches);
}
