using Npgsql;
using NpgsqlTypes;
using OrleansLm.Runtime.Membership;
using OrleansLm.Silo.Grains;

namespace OrleansLm.Silo.Runs;

/// <summary>
/// Run state in PostgreSQL, one row per (cluster, run), next to the cluster's membership table. A row is replaced
/// whole on every save; readers see one save or another, never a mix.
/// </summary>
public sealed class PostgresRunStore : IRunStore, IAsyncDisposable
{
    // The advisory lock that serializes this table's schema creation across silos (PostgresDatabase.CreateSchemaAsync).
    private const long SchemaLockKey = 0x4F_4C_4D_52_55_4E_53_00; // "OLMRUNS"

    private const string CreateTableSql = """
        CREATE TABLE IF NOT EXISTS orleanslm_training_runs (
            cluster_id text NOT NULL,
            run_id text NOT NULL,
            config_json text NOT NULL,
            workers integer NOT NULL,
            parameter_servers integer NOT NULL,
            checkpoint_directory text,
            state text NOT NULL,
            step bigint NOT NULL,
            checkpoint_step bigint NOT NULL,
            error text,
            updated_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (cluster_id, run_id))
        """;

    private const string UpsertSql = """
        INSERT INTO orleanslm_training_runs (cluster_id, run_id, config_json, workers, parameter_servers, checkpoint_directory,
            state, step, checkpoint_step, error, updated_at)
        VALUES (@cluster, @run, @config, @workers, @parameter_servers, @checkpoint_directory, @state, @step, @checkpoint_step, @error, now())
        ON CONFLICT (cluster_id, run_id) DO UPDATE SET config_json = EXCLUDED.config_json, workers = EXCLUDED.workers,
            parameter_servers = EXCLUDED.parameter_servers, checkpoint_directory = EXCLUDED.checkpoint_directory,
            state = EXCLUDED.state, step = EXCLUDED.step, checkpoint_step = EXCLUDED.checkpoint_step, error = EXCLUDED.error,
            updated_at = now()
        """;

    private const string SelectSql = """
        SELECT run_id, config_json, workers, parameter_servers, checkpoint_directory, state, step, checkpoint_step, error
        FROM orleanslm_training_runs WHERE cluster_id = @cluster
        """;

    private readonly NpgsqlDataSource dataSource;
    private readonly string clusterId;
    private readonly SemaphoreSlim schema = new(1, 1);
    private bool schemaReady;

    public PostgresRunStore(string connectionString, string clusterId)
    {
        dataSource = NpgsqlDataSource.Create(PostgresDatabase.Connection(connectionString, "Cluster:Postgres"));
        this.clusterId = clusterId;
    }

    public async Task SaveAsync(RunRecord record, CancellationToken cancellation)
    {
        await EnsureSchemaAsync(cancellation);
        await using var command = dataSource.CreateCommand(UpsertSql);
        command.Parameters.AddWithValue("cluster", clusterId);
        command.Parameters.AddWithValue("run", record.RunId);
        command.Parameters.AddWithValue("config", record.Spec.ConfigJson);
        command.Parameters.AddWithValue("workers", record.Spec.Workers);
        command.Parameters.AddWithValue("parameter_servers", record.Spec.ParameterServers);
        command.Parameters.Add(new NpgsqlParameter("checkpoint_directory", NpgsqlDbType.Text) { Value = (object?)record.Spec.CheckpointDirectory ?? DBNull.Value });
        command.Parameters.AddWithValue("state", record.State.ToString());
        command.Parameters.AddWithValue("step", record.Step);
        command.Parameters.AddWithValue("checkpoint_step", record.CheckpointStep);
        command.Parameters.Add(new NpgsqlParameter("error", NpgsqlDbType.Text) { Value = (object?)record.Error ?? DBNull.Value });
        await command.ExecuteNonQueryAsync(cancellation);
    }

    public async Task<RunRecord?> LoadAsync(string runId, CancellationToken cancellation) =>
        (await ReadAsync(" AND run_id = @run", runId, cancellation)).SingleOrDefault();

    public async Task<IReadOnlyList<RunRecord>> AllAsync(CancellationToken cancellation) =>
        await ReadAsync(" ORDER BY updated_at DESC, run_id", null, cancellation);

    public async Task<IReadOnlyList<RunRecord>> UnfinishedAsync(CancellationToken cancellation) =>
        [.. (await ReadAsync(null, null, cancellation)).Where(r => r.Unfinished)];

    public ValueTask DisposeAsync() => dataSource.DisposeAsync();

    private async Task<List<RunRecord>> ReadAsync(string? filter, string? runId, CancellationToken cancellation)
    {
        await EnsureSchemaAsync(cancellation);
        await using var command = dataSource.CreateCommand(SelectSql + filter);
        command.Parameters.AddWithValue("cluster", clusterId);
        if (runId is not null) command.Parameters.AddWithValue("run", runId);
        await using var reader = await command.ExecuteReaderAsync(cancellation);
        var records = new List<RunRecord>();
        while (await reader.ReadAsync(cancellation))
        {
            var run = reader.GetString(0);
            var stateName = reader.GetString(5);
            if (!Enum.TryParse<RunState>(stateName, out var state))
                throw new InvalidDataException($"orleanslm_training_runs: run '{run}' has state '{stateName}', which this silo does not know");
            var spec = new RunSpec(reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3), reader.IsDBNull(4) ? null : reader.GetString(4));
            records.Add(new RunRecord(run, spec, state, reader.GetInt64(6), reader.GetInt64(7), reader.IsDBNull(8) ? null : reader.GetString(8)));
        }
        return records;
    }

    private async Task EnsureSchemaAsync(CancellationToken cancellation)
    {
        if (schemaReady) return;
        await schema.WaitAsync(cancellation);
        try
        {
            if (schemaReady) return;
            await using var connection = await dataSource.OpenConnectionAsync(cancellation);
            await PostgresDatabase.CreateSchemaAsync(connection, SchemaLockKey, [new NpgsqlBatchCommand(CreateTableSql)], cancellation);
            schemaReady = true;
        }
        finally
        {
            schema.Release();
        }
    }
}
