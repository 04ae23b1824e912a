using System.Net;
using System.Net.Sockets;
using Npgsql;
using OrleansLm.Runtime.Membership;
using OrleansLm.Runtime.Tests.Infrastructure;
using OrleansLm.Testing;

namespace OrleansLm.Runtime.Tests.Membership;

[Collection(PostgresCollection.Name)]
public sealed class PostgresMembershipTableTests(PostgresFixture postgres) : MembershipTableContractTests
{
    private static string NewClusterId() => $"cluster-{Guid.NewGuid():N}";

    // Each test gets its own cluster in the shared database: clusters are isolated by design.
    protected override Task<IMembershipTable> CreateTableAsync() => Task.FromResult<IMembershipTable>(
        new PostgresMembershipTable(new PostgresMembershipOptions(postgres.Server.ConnectionString(), NewClusterId())));

    [Fact]
    public async Task SchemaCreationIsIdempotentAndSafeFromManySilosAtOnce()
    {
        var database = await postgres.Server.CreateDatabaseAsync($"schema_{Guid.NewGuid():N}");
        var clusters = new[] { NewClusterId(), NewClusterId() };
        var tables = Enumerable.Range(0, 12)
            .Select(i => new PostgresMembershipTable(new PostgresMembershipOptions(database, clusters[i % clusters.Length])))
            .ToList();
        try
        {
            await Task.WhenAll(tables.Select(t => Task.Run(() => t.InitializeAsync(CancellationToken.None))));
            await Task.WhenAll(tables.Select(t => t.InitializeAsync(CancellationToken.None)));

            foreach (var table in tables)
            {
                var snapshot = await table.ReadAllAsync(CancellationToken.None);
                snapshot.Version.Version.Should().Be(0);
                snapshot.Entries.Should().BeEmpty();
            }
        }
        finally
        {
            foreach (var table in tables)
                await table.DisposeAsync();
        }
    }

    [Fact]
    public async Task ClustersSharingADatabaseAreIsolated()
    {
        await using var other = new PostgresMembershipTable(
            new PostgresMembershipOptions(postgres.Server.ConnectionString(), NewClusterId()));
        await other.InitializeAsync(CancellationToken.None);

        var mine = await Table.ReadAllAsync(CancellationToken.None);
        (await Table.InsertRowAsync(Row(Silo(1)), mine.Version.Next(), CancellationToken.None)).Should().BeTrue();

        var theirs = await other.ReadAllAsync(CancellationToken.None);
        theirs.Entries.Should().BeEmpty();
        theirs.Version.Version.Should().Be(0);
        (await other.InsertRowAsync(Row(Silo(1)) with { Status = SiloStatus.Active }, theirs.Version.Next(), CancellationToken.None))
            .Should().BeTrue("the same silo address and version number are free in another cluster");

        (await Table.ReadAllAsync(CancellationToken.None)).Entries.Single().Entry.Status.Should().Be(SiloStatus.Joining);
        (await other.ReadAllAsync(CancellationToken.None)).Entries.Single().Entry.Status.Should().Be(SiloStatus.Active);
    }

    [Fact]
    public async Task ReadingAnUninitializedClusterNamesIt()
    {
        var clusterId = NewClusterId();
        await using var table = new PostgresMembershipTable(new PostgresMembershipOptions(postgres.Server.ConnectionString(), clusterId));

        await FluentActions.Awaiting(() => table.ReadAllAsync(CancellationToken.None))
            .Should().ThrowAsync<InvalidOperationException>().WithMessage($"*'{clusterId}'*not initialized*");
    }

    [Fact]
    public async Task AnUnreachableServerIsNamedWithoutItsPassword()
    {
        int closedPort;
        using (var listener = new TcpListener(IPAddress.Loopback, 0))
        {
            listener.Start();
            closedPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        }
        var connectionString = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1", Port = closedPort, Database = "membership_db", Username = "silo", Password = "hunter2-secret", Timeout = 3,
        }.ConnectionString;
        await using var table = new PostgresMembershipTable(new PostgresMembershipOptions(connectionString, "c1"));

        var error = await FluentActions.Awaiting(() => table.InitializeAsync(CancellationToken.None))
            .Should().ThrowAsync<MembershipTableUnavailableException>();

        error.Which.Message.Should().Contain($"127.0.0.1:{closedPort}").And.Contain("membership_db").And.NotContain("hunter2");
    }

    [Theory]
    [InlineData("", "c1", "ConnectionString")]
    [InlineData("Host=127.0.0.1", " ", "ClusterId")]
    [InlineData("Hots=127.0.0.1", "c1", "ConnectionString")]
    public void BadOptionsAreRejectedByName(string connectionString, string clusterId, string option) =>
        FluentActions.Invoking(() => new PostgresMembershipTable(new PostgresMembershipOptions(connectionString, clusterId)))
            .Should().Throw<ArgumentException>().WithMessage($"*{option}*");
}
