using Npgsql;

namespace OrleansLm.Runtime.Membership;

/// <summary>What the cluster's PostgreSQL tables (membership, run state) share: bounded waits and schema creation.</summary>
public static class PostgresDatabase
{
    /// <summary>
    /// The cluster's statements are tiny: a database that takes longer than this counts as unreachable, and a silo cut
    /// off from it must not sit in one call for Npgsql's default 15 s connect and 30 s command timeouts.
    /// </summary>
    public const int MaxWaitSeconds = 5;

    /// <summary>
    /// Parses <paramref name="connectionString"/> (an error names <paramref name="field"/>) and caps its connect and
    /// command timeouts at <see cref="MaxWaitSeconds"/>.
    /// </summary>
    public static NpgsqlConnectionStringBuilder Connection(string connectionString, string field)
    {
        NpgsqlConnectionStringBuilder connection;
        try
        {
            connection = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"{field} is not a PostgreSQL connection string: {e.Message}", field, e);
        }
        connection.Timeout = Math.Min(connection.Timeout, MaxWaitSeconds);
        connection.CommandTimeout = Math.Min(connection.CommandTimeout, MaxWaitSeconds);
        return connection;
    }

    /// <summary>
    /// Runs <paramref name="statements"/> (CREATE … IF NOT EXISTS and the like) in one transaction that first takes the
    /// advisory lock <paramref name="schemaLockKey"/>: concurrent CREATE TABLE IF NOT EXISTS from several silos can
    /// still collide in the catalog, so they take turns.
    /// </summary>
    public static async Task CreateSchemaAsync(NpgsqlConnection connection, long schemaLockKey, IEnumerable<NpgsqlBatchCommand> statements, CancellationToken cancellation)
    {
        await using var transaction = await connection.BeginTransactionAsync(cancellation);
        await using var batch = new NpgsqlBatch(connection, transaction)
        {
            BatchCommands = { new NpgsqlBatchCommand("SELECT pg_advisory_xact_lock(@key)") { Parameters = { new("key", schemaLockKey) } } },
        };
        foreach (var statement in statements) batch.BatchCommands.Add(statement);
        await batch.ExecuteNonQueryAsync(cancellation);
        await transaction.CommitAsync(cancellation);
    }
}
