using OrleansLm.Runtime;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Hosting;
using OrleansLm.Runtime.Membership;

namespace OrleansLm.Bench;

/// <summary>
/// Two <see cref="ClusterSilo"/>s in this process on 127.0.0.1 (one in-memory membership table, a cluster secret):
/// <see cref="Caller"/> makes the calls, <see cref="Host"/> hosts the grains that are called across silos.
/// </summary>
internal sealed class EchoSilos : IAsyncDisposable
{
    public const string Secret = "grain-call-bench";

    private EchoSilos(ClusterSilo caller, ClusterSilo host)
    {
        Caller = caller;
        Host = host;
    }

    public ClusterSilo Caller { get; }

    public ClusterSilo Host { get; }

    /// <summary>Both silos, with the echo grain and whatever <paramref name="moreGrains"/> registers, started and in one view.</summary>
    public static async Task<EchoSilos> StartAsync(Action<IGrainRuntimeBuilder>? moreGrains = null)
    {
        var table = new InMemoryMembershipTable();
        var caller = await StartSiloAsync(table, moreGrains);
        var host = await StartSiloAsync(table, moreGrains);
        // Both read the table now, so their directory rings agree on which silo owns each grain's entry.
        await Task.WhenAll(caller.Membership.RefreshAsync(CancellationToken.None), host.Membership.RefreshAsync(CancellationToken.None));
        return new EchoSilos(caller, host);
    }

    /// <summary>
    /// <paramref name="count"/> echo grain keys from <paramref name="firstKey"/> on whose directory entry
    /// <paramref name="owner"/> holds. A call to a grain with no activation on the calling silo first asks the grain
    /// directory where it lives (the runtime keeps no cache of the answers): a local read where the caller owns the
    /// entry, one more round trip where the host owns it.
    /// </summary>
    public long[] KeysWithDirectoryEntryOn(ClusterSilo owner, int count, int firstKey)
    {
        long[] keys = [.. Enumerable.Range(firstKey, 100 * count).Select(key => (long)key).Where(key => DirectoryOwnerOf(key) == owner.Address).Take(count)];
        return keys.Length == count ? keys : throw new InvalidOperationException($"only {keys.Length} of {count} candidate keys have their entry on {owner.Address}");
    }

    /// <summary>
    /// The echo grains with these keys, activated by a call from <paramref name="home"/>, as the calling silo's
    /// references; throws unless each lives on <paramref name="home"/> and echoes.
    /// </summary>
    public async Task<IEchoGrain[]> ActivateAsync(ClusterSilo home, long[] keys)
    {
        var grains = new IEchoGrain[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            await home.GrainFactory.GetGrain<IEchoGrain>(keys[i]).Where();
            grains[i] = Caller.GrainFactory.GetGrain<IEchoGrain>(keys[i]);
            var where = await grains[i].Where();
            if (where != home.Address.ToString()) throw new InvalidOperationException($"echo grain {keys[i]} lives on {where}, not on {home.Address}");
            if (await grains[i].Echo(i) != i) throw new InvalidOperationException($"echo grain {keys[i]} answered something else");
        }
        return grains;
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Caller.DisposeAsync();
    }

    private static async Task<ClusterSilo> StartSiloAsync(IMembershipTable table, Action<IGrainRuntimeBuilder>? moreGrains)
    {
        var silo = new ClusterSilo(
            new ClusterSiloOptions { ClusterId = "grain-call-bench", ClusterSecret = Secret, MembershipTable = table },
            grains =>
            {
                grains.AddGrain<IEchoGrain, EchoGrain>();
                moreGrains?.Invoke(grains);
            });
        await silo.StartAsync(CancellationToken.None);
        return silo;
    }

    private SiloAddress DirectoryOwnerOf(long key)
    {
        var grainId = GrainId.Create(typeof(IEchoGrain), key);
        var owner = Caller.Directory.OwnerOf(grainId);
        return owner is not null && owner == Host.Directory.OwnerOf(grainId)
            ? owner
            : throw new InvalidOperationException($"the silos disagree on the directory owner of {grainId}: their views differ");
    }
}
