using Xunit;

namespace OrleansLm.Testing;

/// <summary>
/// One PostgreSQL server shared by the tests of a class (<c>IClassFixture</c>) or of a collection (a collection
/// definition must live in the test assembly, as <c>PostgresCollection</c> in the runtime tests does).
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    private PostgresServer? server;

    public PostgresServer Server => server ?? throw new InvalidOperationException("the PostgreSQL fixture has not started");

    public async Task InitializeAsync() => server = await PostgresServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (server is not null)
            await server.DisposeAsync();
    }
}
