using System.Diagnostics.Metrics;
using OrleansLm.Runtime.Membership;

namespace OrleansLm.Runtime.Metrics;

/// <summary>
/// The cluster as one silo's membership view sees it: silos by status, and silos the cluster declared dead (meter
/// <see cref="RuntimeMeters.Name"/>). One per cluster silo, disposed with it.
/// </summary>
internal sealed class MembershipMetrics : IDisposable
{
    private readonly Meter meter = new(RuntimeMeters.Name);
    private readonly Counter<long> declaredDead;

    public MembershipMetrics(MembershipService membership)
    {
        meter.CreateObservableGauge("olm.membership.silos", () => Enum.GetValues<SiloStatus>()
                .Select(status => new Measurement<int>(
                    membership.View.Members.Count(m => m.Status == status),
                    new KeyValuePair<string, object?>("status", Label(status)))),
            "{silo}", "Silos in this silo's view of the membership table, by status.");
        declaredDead = meter.CreateCounter<long>("olm.membership.declared_dead", "{silo}",
            "Silos this silo saw the cluster declare dead by its members' votes (a graceful leave or a restart's retirement is not counted).");
        membership.ViewChanged += Count;
    }

    /// <summary>This silo's meter (tests listen to one silo's instruments among several in a process).</summary>
    internal Meter Meter => meter;

    public void Dispose() => meter.Dispose();

    private static string Label(SiloStatus status) => status switch
    {
        SiloStatus.ShuttingDown => "shutting_down",
        _ => status.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// A silo declared dead carries the votes that condemned it; one that left (whose shutting_down this silo may not
    /// have read between two refreshes) carries none. A silo first read already dead died before this one joined.
    /// </summary>
    private void Count(MembershipViewChange change) =>
        declaredDead.Add(change.Changes.Count(c =>
            c is { Current: SiloStatus.Dead, Previous: not null and not SiloStatus.Dead } && change.Current.EntryOf(c.Silo)!.Suspicions.Count > 0));
}
