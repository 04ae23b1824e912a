using OrleansLm.Runtime.Cluster;
using OrleansLm.Runtime.Membership;

namespace OrleansLm.Runtime.Tests.Cluster;

public sealed class MembershipPlacementCandidatesTests
{
    [Fact]
    public void OnlyActiveSilosAreCandidatesWithTheirRowsOrThisSilosFreeDevices()
    {
        var self = new SiloAddress("127.0.0.1", 1, 1);
        var active = new SiloAddress("127.0.0.1", 2, 1);
        var view = new MembershipView(7,
        [
            Row(self, SiloStatus.Active, ["worker"], 4),
            Row(active, SiloStatus.Active, ["data"], 2),
            Row(new SiloAddress("127.0.0.1", 3, 1), SiloStatus.Joining, ["worker"], 8),
            Row(new SiloAddress("127.0.0.1", 4, 1), SiloStatus.ShuttingDown, ["worker"], 8),
            Row(new SiloAddress("127.0.0.1", 5, 1), SiloStatus.Dead, ["worker"], 8),
        ]);
        var busyDevices = 3;
        var candidates = new MembershipPlacementCandidates(() => view, new LocalSiloDetails(self, ["worker"], devices: 4), () => busyDevices);

        var chosen = candidates.GetCandidates().OrderBy(c => c.Silo.Port).ToArray();

        chosen.Select(c => c.Silo).Should().Equal(self, active);
        chosen[0].FreeDevices.Should().Be(1, "four devices, three held by local activations");
        chosen[1].Roles.Should().Equal("data");
        chosen[1].FreeDevices.Should().Be(2);
    }

    private static MembershipEntry Row(SiloAddress silo, SiloStatus status, string[] roles, int devices) =>
        new(silo, status, "host", DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch, [], roles, devices);
}
