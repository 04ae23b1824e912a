using OrleansLm.Runtime.Membership;

namespace OrleansLm.Runtime.Tests.Membership;

/// <summary>One silo's way to a shared table, which the test can cut: every call then fails as an unreachable database would.</summary>
public sealed class SeverableMembershipTable(IMembershipTable inner) : IMembershipTable
{
    private volatile bool severed;

    public void Sever() => severed = true;

    public void Heal() => severed = false;

    public Task InitializeAsync(CancellationToken cancellation) => Pass(() => inner.InitializeAsync(cancellation));

    public Task<MembershipSnapshot> ReadAllAsync(CancellationToken cancellation) => Pass(() => inner.ReadAllAsync(cancellation));

    public Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion version, CancellationToken cancellation) =>
        Pass(() => inner.InsertRowAsync(entry, version, cancellation));

    public Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion version, CancellationToken cancellation) =>
        Pass(() => inner.UpdateRowAsync(entry, etag, version, cancellation));

    public Task UpdateIAmAliveAsync(SiloAddress silo, DateTimeOffset time, CancellationToken cancellation) =>
        Pass(() => inner.UpdateIAmAliveAsync(silo, time, cancellation));

    private Task<T> Pass<T>(Func<Task<T>> call) =>
        severed ? Task.FromException<T>(new MembershipTableUnavailableException("cut off by the test", new IOException("severed"))) : call();

    private Task Pass(Func<Task> call) =>
        severed ? Task.FromException(new MembershipTableUnavailableException("cut off by the test", new IOException("severed"))) : call();
}
