using Npgsql;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Runs;
using OrleansLm.Testing;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// <see cref="PostgresRunStore"/> against a real PostgreSQL server, each test on a database of its own; what a store
/// saved is read back through another store, so nothing comes from one instance's memory.
/// </summary>
public sealed class PostgresRunStoreTests(PostgresFixture postgres) : IClassFixture<PostgresFixture>
{
    private const string Table = "orleanslm_training_runs";

    [Fact]
    public async Task ARunLoadsBackAsSavedWithItsNullsAndAnUnknownRunIsNull()
    {
        var database = await NewDatabaseAsync();
        var sparse = new RunRecord("sparse", new RunSpec("{\"data\":{}}", 1, 1), RunState.NotStarted, 0, -1, null);
        var full = new RunRecord("full", new RunSpec("{\"model\":\"ünïcode 'quoted'\"}", 4, 3, "/checkpoints/full"),
            RunState.Failed, long.MaxValue - 1, 40, "step 41: the loss is NaN; \"quoted\" ✗");
        await using (var writer = new PostgresRunStore(database, "cluster"))
        {
            await writer.SaveAsync(sparse, CancellationToken.None);
            await writer.SaveAsync(full, CancellationToken.None);
        }

        await using var reader = new PostgresRunStore(database, "cluster");
        (await reader.LoadAsync("sparse", CancellationToken.None)).Should().Be(sparse);
        (await reader.LoadAsync("full", CancellationToken.None)).Should().Be(full);
        (await reader.LoadAsync("never-saved", CancellationToken.None)).Should().BeNull();
    }

    [Fact]
    public async Task ASaveReplacesTheRunsRowWhole()
    {
        var database = await NewDatabaseAsync();
        await using var store = new PostgresRunStore(database, "cluster");
        await store.SaveAsync(new RunRecord("run", new RunSpec("{}", 2, 2, "/a"), RunState.Running, 10, 0, "an earlier error"), CancellationToken.None);
        var later = new RunRecord("run", new RunSpec("{\"changed\":true}", 3, 1), RunState.Stopped, 20, 20, null);

        await store.SaveAsync(later, CancellationToken.None);

        await using var reader = new PostgresRunStore(database, "cluster");
        (await reader.LoadAsync("run", CancellationToken.None)).Should().Be(later);
        (await ScalarAsync<long>(database, $"SELECT count(*) FROM {Table}")).Should().Be(1);
    }

    [Fact]
    public async Task UnfinishedRunsAreTheRunningAndPausedOnesOfTheStoresOwnCluster()
    {
        var database = await NewDatabaseAsync();
        await using var mine = new PostgresRunStore(database, "mine");
        await using var theirs = new PostgresRunStore(database, "theirs");
        foreach (var state in Enum.GetValues<RunState>())
        {
            await mine.SaveAsync(Record($"mine-{state}", state), CancellationToken.None);
            await theirs.SaveAsync(Record($"theirs-{state}", state), CancellationToken.None);
        }
        // The same run id in both clusters is two runs.
        await mine.SaveAsync(Record("shared", RunState.Running), CancellationToken.None);
        await theirs.SaveAsync(Record("shared", RunState.Completed), CancellationToken.None);

        (await mine.UnfinishedAsync(CancellationToken.None)).Select(r => r.RunId)
            .Should().BeEquivalentTo(["mine-Running", "mine-Paused", "shared"]);
        (await theirs.UnfinishedAsync(CancellationToken.None)).Select(r => r.RunId)
            .Should().BeEquivalentTo(["theirs-Running", "theirs-Paused"]);
        (await theirs.LoadAsync("mine-Running", CancellationToken.None)).Should().BeNull();
        (await theirs.LoadAsync("shared", CancellationToken.None))!.State.Should().Be(RunState.Completed);
    }

    [Fact]
    public async Task StoresUsingAnEmptyDatabaseAtOnceCreateItsTableOnceWithoutError()
    {
        var database = await NewDatabaseAsync();
        var stores = Enumerable.Range(0, 8).Select(i => new PostgresRunStore(database, $"cluster-{i}")).ToList();
        try
        {
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var saves = stores.Select(async (store, i) =>
            {
                await go.Task;
                await store.SaveAsync(Record($"run-{i}", RunState.Running), CancellationToken.None);
            }).ToList();
            go.SetResult();
            await Task.WhenAll(saves);

            (await ScalarAsync<long>(database, $"SELECT count(*) FROM pg_class WHERE relname = '{Table}'")).Should().Be(1);
            for (var i = 0; i < stores.Count; i++)
                (await stores[i].UnfinishedAsync(CancellationToken.None)).Should().ContainSingle().Which.RunId.Should().Be($"run-{i}");
        }
        finally
        {
            foreach (var store in stores) await store.DisposeAsync();
        }
    }

    [Fact]
    public async Task AStateThisSiloDoesNotKnowIsAnErrorNamingTheRun()
    {
        var database = await NewDatabaseAsync();
        await using var store = new PostgresRunStore(database, "cluster");
        await store.SaveAsync(Record("from-the-future", RunState.Running), CancellationToken.None);
        await ScalarAsync<int>(database, $"UPDATE {Table} SET state = 'Hibernating' WHERE run_id = 'from-the-future' RETURNING 1");

        await store.Invoking(s => s.LoadAsync("from-the-future", CancellationToken.None)).Should().ThrowAsync<InvalidDataException>()
            .WithMessage("*run 'from-the-future'*state 'Hibernating'*");
        await store.Invoking(s => s.UnfinishedAsync(CancellationToken.None)).Should().ThrowAsync<InvalidDataException>()
            .WithMessage("*run 'from-the-future'*");
    }

    private static RunRecord Record(string runId, RunState state) => new(runId, new RunSpec("{}", 2, 2, $"/checkpoints/{runId}"), state, 5, 0, null);

    private Task<string> NewDatabaseAsync() => postgres.Server.CreateDatabaseAsync($"runs_{Guid.NewGuid():N}");

    private static async Task<T> ScalarAsync<T>(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
