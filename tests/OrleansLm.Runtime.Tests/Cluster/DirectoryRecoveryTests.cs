using System.Collections.Concurrent;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Grains;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Tests.Transport;
using OrleansLm.Runtime.Transport;

namespace OrleansLm.Runtime.Tests.Cluster;

/// <summary>
/// Directories over real transports, without the cluster host's hand-off: what a new partition owner knows comes
/// from its own recovery alone, so a lookup that misses here is a second activation waiting to happen.
/// </summary>
public sealed class DirectoryRecoveryTests : IAsyncLifetime
{
    private readonly List<DirectorySilo> silos = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var silo in silos)
            await silo.Transport.DisposeAsync();
    }

    [Fact]
    public async Task AfterAnOwnerCrashesItsKeysAreRecoveredFromTheSilosHoldingTheirActivations()
    {
        var (holder, other, owner) = (await StartAsync(), await StartAsync(), await StartAsync());
        ApplyToAll(View(active: [holder, other, owner]));
        var grains = GrainsOwnedBy(owner, 8);
        foreach (var grainId in grains)
        {
            (await holder.Directory.RegisterAsync(grainId, holder.Address)).Should().Be(holder.Address);
            holder.Activations[grainId] = true;
        }

        owner.Directory.Detach();
        await owner.Transport.DisposeAsync();
        ApplyToAll(View(active: [holder, other], dead: [owner]), except: owner);

        foreach (var grainId in grains)
        {
            (await other.Directory.LookupAsync(grainId)).Should().Be(holder.Address, $"{grainId} still lives on its holder");
            (await other.Directory.RegisterAsync(grainId, other.Address)).Should().Be(holder.Address, "a second activation loses to the recovered one");
        }
    }

    [Fact]
    public async Task KeysThatMoveToAJoiningSiloAreRecoveredFromTheirHolders()
    {
        var (holder, first) = (await StartAsync(), await StartAsync());
        ApplyToAll(View(active: [holder, first]));
        var grains = Enumerable.Range(0, 200).Select(i => GrainId.Create(typeof(IClusterGrain), $"join-{i}")).ToList();
        foreach (var grainId in grains)
        {
            await holder.Directory.RegisterAsync(grainId, holder.Address);
            holder.Activations[grainId] = true;
        }

        var joiner = await StartAsync();
        ApplyToAll(View(active: [holder, first, joiner]));
        var moved = grains.Where(g => joiner.Directory.OwnerOf(g) == joiner.Address).ToList();

        moved.Should().NotBeEmpty("the joiner takes a share of the keys");
        foreach (var grainId in moved)
            (await joiner.Directory.LookupAsync(grainId)).Should().Be(holder.Address);
        first.Directory.PartitionCount.Should().Be(grains.Count(g => first.Directory.OwnerOf(g) == first.Address),
            "the previous owners forgot the keys that moved away");
    }

    private async Task<DirectorySilo> StartAsync()
    {
        var silo = new DirectorySilo();
        silo.Transport = await Silos.StartAsync(new DelegateHandler(async (caller, request, cancellation) =>
        {
            var (kind, body) = ClusterMessages.Open(request);
            return (await silo.Directory.HandleAsync(caller, kind, body, cancellation)).ToArray();
        }));
        silo.Directory = new DistributedGrainDirectory(
            silo.Transport, new LocalSiloDetails(silo.Address), () => [.. silo.Activations.Keys], _ => Task.CompletedTask,
            TimeSpan.FromSeconds(5), NullLogger<DistributedGrainDirectory>.Instance);
        silos.Add(silo);
        return silo;
    }

    private List<GrainId> GrainsOwnedBy(DirectorySilo owner, int count) =>
        [.. Enumerable.Range(0, 1000).Select(i => GrainId.Create(typeof(IClusterGrain), $"k-{i}"))
            .Where(g => owner.Directory.OwnerOf(g) == owner.Address).Take(count)];

    private static MembershipView View(IEnumerable<DirectorySilo> active, IEnumerable<DirectorySilo>? dead = null)
    {
        var now = DateTimeOffset.UtcNow;
        MembershipEntry Row(DirectorySilo silo, SiloStatus status) => new(silo.Address, status, "host", now, now, [], [], 0);
        return new MembershipView(1, [.. active.Select(s => Row(s, SiloStatus.Active)), .. (dead ?? []).Select(s => Row(s, SiloStatus.Dead))]);
    }

    private void ApplyToAll(MembershipView view, DirectorySilo? except = null)
    {
        foreach (var silo in silos.Where(s => s != except))
            silo.Directory.ApplyView(view);
    }

    private sealed class DirectorySilo
    {
        public TcpSiloTransport Transport { get; set; } = null!;

        public DistributedGrainDirectory Directory { get; set; } = null!;

        public ConcurrentDictionary<GrainId, bool> Activations { get; } = new();

        public SiloAddress Address => Transport.LocalAddress;
    }
}
