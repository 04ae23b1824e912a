using OrleansLm.Runtime;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Bench;

public interface IEchoGrain : IGrainWithIntegerKey
{
    Task<int> Echo(int value);

    /// <summary>The address of the silo this activation lives on.</summary>
    Task<string> Where();
}

/// <summary>
/// Lands on the silo whose call activates it, so the benchmark puts a grain on the calling silo or on the other one
/// by choosing which silo calls it first.
/// </summary>
[PreferLocalPlacement]
public sealed class EchoGrain(ILocalSiloDetails silo) : Grain, IEchoGrain
{
    public Task<int> Echo(int value) => Task.FromResult(value);

    public Task<string> Where() => Task.FromResult(silo.Address.ToString());
}
