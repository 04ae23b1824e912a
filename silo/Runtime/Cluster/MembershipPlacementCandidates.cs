using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Placement;

namespace OrleansLm.Runtime.Cluster;

/// <summary>
/// Placement candidates from the membership view: the Active silos only (a Joining, ShuttingDown or Dead silo takes
/// no new activations), with the roles and devices of their rows. This silo's free devices are its own count minus
/// the device-holding activations it runs; another silo's are its row's device count (its usage is not published).
/// </summary>
public sealed class MembershipPlacementCandidates(Func<MembershipView> view, ILocalSiloDetails localSilo, Func<int> localDeviceActivations)
    : IPlacementCandidates
{
    public IReadOnlyList<PlacementCandidate> GetCandidates() =>
    [
        .. view().ActiveMembers.Select(member => member.Silo == localSilo.Address
            ? new PlacementCandidate(member.Silo, localSilo.Roles, Math.Max(0, localSilo.Devices - localDeviceActivations()))
            : new PlacementCandidate(member.Silo, member.Roles, member.Devices)),
    ];
}
