using OrleansLm.Runtime.Membership;

namespace OrleansLm.Runtime.Tests.Membership;

/// <summary>The protocol every membership table keeps; each provider runs these against a fresh table.</summary>
public abstract class MembershipTableContractTests : IAsyncLifetime
{
    // Whole microseconds: PostgreSQL's timestamptz resolution.
    protected static readonly DateTimeOffset Epoch = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private IMembershipTable? table;

    protected IMembershipTable Table => table ?? throw new InvalidOperationException("the table is created in InitializeAsync");

    protected abstract Task<IMembershipTable> CreateTableAsync();

    public async Task InitializeAsync()
    {
        table = await CreateTableAsync();
        await table.InitializeAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        if (table is IAsyncDisposable disposable)
            await disposable.DisposeAsync();
    }

    protected static SiloAddress Silo(int port) => new("127.0.0.1", port, 638_700_000_000_000_000 + port);

    protected static MembershipEntry Row(SiloAddress silo, SiloStatus status = SiloStatus.Joining) => new(
        silo, status, HostName: $"host-{silo.Port}", StartTime: Epoch, IAmAliveTime: Epoch.AddSeconds(1),
        Suspicions: [], Roles: ["worker"], Devices: 2);

    private Task<MembershipSnapshot> ReadAsync() => Table.ReadAllAsync(CancellationToken.None);

    [Fact]
    public async Task AnInsertedRowReadsBackWithTheNextVersion()
    {
        var empty = await ReadAsync();
        empty.Entries.Should().BeEmpty();
        var voter = Silo(2);
        var row = Row(Silo(1)) with
        {
            Suspicions = [new Suspicion(voter, Epoch.AddSeconds(5).AddTicks(10))],
            Roles = ["worker", "gpu"],
            Devices = 8,
        };

        (await Table.InsertRowAsync(row, empty.Version.Next(), CancellationToken.None)).Should().BeTrue();

        var snapshot = await ReadAsync();
        snapshot.Version.Version.Should().Be(empty.Version.Version + 1);
        snapshot.Entries.Should().ContainSingle().Which.Entry.Should().BeEquivalentTo(row);
    }

    [Fact]
    public async Task AnInsertPresentingAnOutdatedOrSkippedVersionFails()
    {
        var initial = await ReadAsync();
        (await Table.InsertRowAsync(Row(Silo(1)), initial.Version.Next(), CancellationToken.None)).Should().BeTrue();

        (await Table.InsertRowAsync(Row(Silo(2)), initial.Version.Next(), CancellationToken.None)).Should().BeFalse();
        (await Table.InsertRowAsync(Row(Silo(2)), initial.Version.Next().Next().Next(), CancellationToken.None)).Should().BeFalse();

        var snapshot = await ReadAsync();
        snapshot.Version.Version.Should().Be(initial.Version.Version + 1);
        snapshot.Entries.Select(e => e.Entry.Silo).Should().Equal(Silo(1));
    }

    [Fact]
    public async Task InsertingAnExistingSiloFailsAndKeepsTheVersion()
    {
        var initial = await ReadAsync();
        await Table.InsertRowAsync(Row(Silo(1)), initial.Version.Next(), CancellationToken.None);
        var afterInsert = await ReadAsync();

        (await Table.InsertRowAsync(Row(Silo(1), SiloStatus.Active), afterInsert.Version.Next(), CancellationToken.None)).Should().BeFalse();

        var snapshot = await ReadAsync();
        snapshot.Version.Should().Be(afterInsert.Version);
        snapshot.Entries.Single().Entry.Status.Should().Be(SiloStatus.Joining);
    }

    [Fact]
    public async Task AnUpdateNeedsTheRowsCurrentETagAndTheNextVersion()
    {
        var initial = await ReadAsync();
        await Table.InsertRowAsync(Row(Silo(1)), initial.Version.Next(), CancellationToken.None);
        var read = await ReadAsync();
        var original = read.Entries.Single();
        var active = original.Entry with { Status = SiloStatus.Active };

        (await Table.UpdateRowAsync(active, original.ETag, read.Version, CancellationToken.None)).Should().BeFalse("the version did not advance");
        (await Table.UpdateRowAsync(active, original.ETag, read.Version.Next(), CancellationToken.None)).Should().BeTrue();

        var updated = await ReadAsync();
        updated.Version.Version.Should().Be(read.Version.Version + 1);
        updated.Entries.Single().Entry.Status.Should().Be(SiloStatus.Active);
        updated.Entries.Single().ETag.Should().NotBe(original.ETag);

        var dead = original.Entry with { Status = SiloStatus.Dead };
        (await Table.UpdateRowAsync(dead, original.ETag, updated.Version.Next(), CancellationToken.None))
            .Should().BeFalse("the etag is stale even though the version is right");
        (await ReadAsync()).Should().BeEquivalentTo(updated);
    }

    [Fact]
    public async Task UpdatingAMissingRowFails()
    {
        var initial = await ReadAsync();
        await Table.InsertRowAsync(Row(Silo(1)), initial.Version.Next(), CancellationToken.None);
        var read = await ReadAsync();

        (await Table.UpdateRowAsync(Row(Silo(2)), read.Entries.Single().ETag, read.Version.Next(), CancellationToken.None)).Should().BeFalse();
        (await ReadAsync()).Version.Should().Be(read.Version);
    }

    [Fact]
    public async Task ConcurrentInsertsEachWinOneDistinctVersion()
    {
        const int writers = 16;
        var initial = await ReadAsync();

        async Task<long> InsertUntilWonAsync(SiloAddress silo)
        {
            for (var attempt = 0; attempt < 10 * writers; attempt++)
            {
                var next = (await ReadAsync()).Version.Next();
                if (await Table.InsertRowAsync(Row(silo), next, CancellationToken.None))
                    return next.Version;
            }
            throw new TimeoutException($"{silo} never won an insert");
        }

        var won = await Task.WhenAll(Enumerable.Range(1, writers).Select(i => Task.Run(() => InsertUntilWonAsync(Silo(i)))));

        won.Order().Should().Equal(Enumerable.Range(1, writers).Select(i => initial.Version.Version + i));
        var snapshot = await ReadAsync();
        snapshot.Version.Version.Should().Be(initial.Version.Version + writers);
        snapshot.Entries.Select(e => e.Entry.Silo).Should().BeEquivalentTo(Enumerable.Range(1, writers).Select(Silo));
    }

    [Fact]
    public async Task OfConcurrentUpdatesFromOneReadExactlyOneWins()
    {
        var initial = await ReadAsync();
        await Table.InsertRowAsync(Row(Silo(1)), initial.Version.Next(), CancellationToken.None);
        var read = await ReadAsync();
        var row = read.Entries.Single();

        var results = await Task.WhenAll(Enumerable.Range(2, 8).Select(voter => Task.Run(() => Table.UpdateRowAsync(
            row.Entry with { Suspicions = [new Suspicion(Silo(voter), Epoch)] }, row.ETag, read.Version.Next(), CancellationToken.None))));

        results.Count(won => won).Should().Be(1);
        var after = await ReadAsync();
        after.Version.Version.Should().Be(read.Version.Version + 1);
        after.Entries.Single().Entry.Suspicions.Should().ContainSingle();
    }

    [Fact]
    public async Task IAmAliveRefreshesTheTimeWithoutChangingETagOrVersion()
    {
        var initial = await ReadAsync();
        await Table.InsertRowAsync(Row(Silo(1)), initial.Version.Next(), CancellationToken.None);
        var read = await ReadAsync();
        var heartbeat = Epoch.AddMinutes(3);

        await Table.UpdateIAmAliveAsync(Silo(1), heartbeat, CancellationToken.None);

        var after = await ReadAsync();
        after.Version.Should().Be(read.Version);
        after.Entries.Single().ETag.Should().Be(read.Entries.Single().ETag);
        after.Entries.Single().Entry.IAmAliveTime.Should().Be(heartbeat);

        // A status change built from the earlier read still wins, and does not set the heartbeat back.
        var active = read.Entries.Single().Entry with { Status = SiloStatus.Active };
        (await Table.UpdateRowAsync(active, read.Entries.Single().ETag, read.Version.Next(), CancellationToken.None)).Should().BeTrue();
        var final = (await ReadAsync()).Entries.Single().Entry;
        final.Status.Should().Be(SiloStatus.Active);
        final.IAmAliveTime.Should().Be(heartbeat);
    }

    [Fact]
    public async Task IAmAliveOfAnUnknownSiloChangesNothing()
    {
        var initial = await ReadAsync();
        await Table.UpdateIAmAliveAsync(Silo(9), Epoch, CancellationToken.None);
        (await ReadAsync()).Should().BeEquivalentTo(initial);
    }
}

public sealed class InMemoryMembershipTableTests : MembershipTableContractTests
{
    protected override Task<IMembershipTable> CreateTableAsync() => Task.FromResult<IMembershipTable>(new InMemoryMembershipTable());

    [Fact]
    public async Task TheStoredRowIsACopyOfTheCallersLists()
    {
        var roles = new List<string> { "worker" };
        var next = (await Table.ReadAllAsync(CancellationToken.None)).Version.Next();
        await Table.InsertRowAsync(Row(Silo(1)) with { Roles = roles }, next, CancellationToken.None);

        roles.Add("intruder");

        (await Table.ReadAllAsync(CancellationToken.None)).Entries.Single().Entry.Roles.Should().Equal("worker");
    }
}
