using System.Globalization;
using Npgsql;

namespace OrleansLm.Runtime.Membership;

/// <summary>
/// The membership table in PostgreSQL, with the protocol of Orleans' ADO.NET clustering: one version row per
/// cluster; inserting or updating a member row advances that version in the same transaction, only if it still
/// holds the predecessor of the version the writer presents (and, for updates, only if the row's etag is still the
/// one the writer read). A row's etag is the table version that last wrote it. Times are stored as timestamptz, so
/// they round to microseconds.
/// </summary>
public sealed class PostgresMembershipTable : IMembershipTable, IAsyncDisposable
{
    // The advisory lock that serializes this table's schema creation across silos (PostgresDatabase.CreateSchemaAsync).
    private const long SchemaLockKey = 0x4F_4C_4D_45_4D_42_45_52; // "OLMEMBER"

    private const string CreateVersionTableSql = """
        CREATE TABLE IF NOT EXISTS orleanslm_membership_version (
            cluster_id text PRIMARY KEY,
            version bigint NOT NULL,
            updated_at timestamptz NOT NULL DEFAULT now())
        """;

    private const string CreateMemberTableSql = """
        CREATE TABLE IF NOT EXISTS orleanslm_membership (
            cluster_id text NOT NULL REFERENCES orleanslm_membership_version (cluster_id),
            host text NOT NULL,
            port integer NOT NULL,
            generation bigint NOT NULL,
            status smallint NOT NULL,
            host_name text NOT NULL,
            start_time timestamptz NOT NULL,
            i_am_alive_time timestamptz NOT NULL,
            suspect_voters text[] NOT NULL,
            suspect_times timestamptz[] NOT NULL,
            roles text[] NOT NULL,
            devices integer NOT NULL,
            etag bigint NOT NULL,
            PRIMARY KEY (cluster_id, host, port, generation))
        """;

    private const string AdvanceVersionSql = """
        UPDATE orleanslm_membership_version SET version = @version, updated_at = now()
        WHERE cluster_id = @cluster AND version = @version - 1
        """;

    private const string InsertRowSql = """
        INSERT INTO orleanslm_membership (cluster_id, host, port, generation, status, host_name, start_time,
            i_am_alive_time, suspect_voters, suspect_times, roles, devices, etag)
        VALUES (@cluster, @host, @port, @generation, @status, @host_name, @start_time,
            @i_am_alive_time, @suspect_voters, @suspect_times, @roles, @devices, @version)
        ON CONFLICT DO NOTHING
        """;

    private const string UpdateRowSql = """
        UPDATE orleanslm_membership SET status = @status, host_name = @host_name, start_time = @start_time,
            i_am_alive_time = GREATEST(i_am_alive_time, @i_am_alive_time), suspect_voters = @suspect_voters,
            suspect_times = @suspect_times, roles = @roles, devices = @devices, etag = @version
        WHERE cluster_id = @cluster AND host = @host AND port = @port AND generation = @generation AND etag = @etag
        """;

    private const string ReadAllSql = """
        SELECT v.version, m.host, m.port, m.generation, m.status, m.host_name, m.start_time, m.i_am_alive_time,
            m.suspect_voters, m.suspect_times, m.roles, m.devices, m.etag
        FROM orleanslm_membership_version v
        LEFT JOIN orleanslm_membership m ON m.cluster_id = v.cluster_id
        WHERE v.cluster_id = @cluster
        """;

    private readonly NpgsqlDataSource dataSource;
    private readonly string clusterId;
    private readonly string location;

    public PostgresMembershipTable(PostgresMembershipOptions options)
    {
        if (string.IsNullOrWhiteSpace(options.ConnectionString))
            throw new ArgumentException($"{nameof(PostgresMembershipOptions)}.{nameof(options.ConnectionString)} is empty", nameof(options));
        if (string.IsNullOrWhiteSpace(options.ClusterId))
            throw new ArgumentException($"{nameof(PostgresMembershipOptions)}.{nameof(options.ClusterId)} is empty", nameof(options));

        var connection = PostgresDatabase.Connection(options.ConnectionString, $"{nameof(PostgresMembershipOptions)}.{nameof(options.ConnectionString)}");
        clusterId = options.ClusterId;
        location = $"PostgreSQL at {connection.Host}:{connection.Port}, database '{connection.Database ?? connection.Username}'";
        dataSource = NpgsqlDataSource.Create(connection);
    }

    public async Task InitializeAsync(CancellationToken cancellation)
    {
        await using var connection = await OpenAsync(cancellation);
        await PostgresDatabase.CreateSchemaAsync(connection, SchemaLockKey,
        [
            new NpgsqlBatchCommand(CreateVersionTableSql),
            new NpgsqlBatchCommand(CreateMemberTableSql),
            new NpgsqlBatchCommand("INSERT INTO orleanslm_membership_version (cluster_id, version) VALUES (@cluster, 0) ON CONFLICT DO NOTHING")
            {
                Parameters = { new("cluster", clusterId) },
            },
        ], cancellation);
    }

    public async Task<MembershipSnapshot> ReadAllAsync(CancellationToken cancellation)
    {
        await using var connection = await OpenAsync(cancellation);
        await using var command = new NpgsqlCommand(ReadAllSql, connection) { Parameters = { new("cluster", clusterId) } };
        TableVersion? version = null;
        var entries = new List<VersionedEntry>();
        try
        {
            await using var reader = await command.ExecuteReaderAsync(cancellation);
            while (await reader.ReadAsync(cancellation))
            {
                version ??= VersionOf(reader.GetInt64(0));
                if (!reader.IsDBNull(1))
                    entries.Add(ReadEntry(reader));
            }
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.UndefinedTable)
        {
            throw NotInitialized(e);
        }
        return new MembershipSnapshot(entries, version ?? throw NotInitialized(null));
    }

    public Task<bool> InsertRowAsync(MembershipEntry entry, TableVersion version, CancellationToken cancellation) =>
        WriteRowAsync(new NpgsqlBatchCommand(InsertRowSql), entry, version, cancellation);

    public Task<bool> UpdateRowAsync(MembershipEntry entry, string etag, TableVersion version, CancellationToken cancellation)
    {
        if (!long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var expectedETag))
            throw new ArgumentException($"'{etag}' is not an etag of this table (a table version number)", nameof(etag));
        return WriteRowAsync(
            new NpgsqlBatchCommand(UpdateRowSql) { Parameters = { new("etag", expectedETag) } }, entry, version, cancellation);
    }

    public async Task UpdateIAmAliveAsync(SiloAddress silo, DateTimeOffset time, CancellationToken cancellation)
    {
        await using var connection = await OpenAsync(cancellation);
        await using var command = new NpgsqlCommand(
            """
            UPDATE orleanslm_membership SET i_am_alive_time = @time
            WHERE cluster_id = @cluster AND host = @host AND port = @port AND generation = @generation
            """,
            connection);
        AddKey(command.Parameters, silo);
        command.Parameters.Add(new("time", time.UtcDateTime));
        await command.ExecuteNonQueryAsync(cancellation);
    }

    public ValueTask DisposeAsync() => dataSource.DisposeAsync();

    /// <summary>Advances the version and writes the row in one transaction; commits only if both found what they expected.</summary>
    private async Task<bool> WriteRowAsync(
        NpgsqlBatchCommand writeRow, MembershipEntry entry, TableVersion version, CancellationToken cancellation)
    {
        AddKey(writeRow.Parameters, entry.Silo);
        writeRow.Parameters.Add(new("version", version.Version));
        writeRow.Parameters.Add(new("status", (short)entry.Status));
        writeRow.Parameters.Add(new("host_name", entry.HostName));
        writeRow.Parameters.Add(new("start_time", entry.StartTime.UtcDateTime));
        writeRow.Parameters.Add(new("i_am_alive_time", entry.IAmAliveTime.UtcDateTime));
        writeRow.Parameters.Add(new("suspect_voters", entry.Suspicions.Select(s => s.Voter.ToString()).ToArray()));
        writeRow.Parameters.Add(new("suspect_times", entry.Suspicions.Select(s => s.Time.UtcDateTime).ToArray()));
        writeRow.Parameters.Add(new("roles", entry.Roles.ToArray()));
        writeRow.Parameters.Add(new("devices", entry.Devices));

        var advanceVersion = new NpgsqlBatchCommand(AdvanceVersionSql)
        {
            Parameters = { new("cluster", clusterId), new("version", version.Version) },
        };

        await using var connection = await OpenAsync(cancellation);
        await using var transaction = await connection.BeginTransactionAsync(cancellation);
        await using var batch = new NpgsqlBatch(connection, transaction) { BatchCommands = { advanceVersion, writeRow } };
        await batch.ExecuteNonQueryAsync(cancellation);
        if (advanceVersion.RecordsAffected != 1 || writeRow.RecordsAffected != 1)
        {
            await transaction.RollbackAsync(cancellation);
            return false;
        }
        await transaction.CommitAsync(cancellation);
        return true;
    }

    private void AddKey(NpgsqlParameterCollection parameters, SiloAddress silo)
    {
        parameters.Add(new("cluster", clusterId));
        parameters.Add(new("host", silo.Host));
        parameters.Add(new("port", silo.Port));
        parameters.Add(new("generation", silo.Generation));
    }

    private static VersionedEntry ReadEntry(NpgsqlDataReader reader)
    {
        var silo = new SiloAddress(reader.GetString(1), reader.GetInt32(2), reader.GetInt64(3));
        var status = (SiloStatus)reader.GetInt16(4);
        if (!Enum.IsDefined(status))
            throw new InvalidDataException($"membership row of {silo} has unknown status {(int)status}");
        var voters = reader.GetFieldValue<string[]>(8);
        var voteTimes = reader.GetFieldValue<DateTime[]>(9);
        var entry = new MembershipEntry(
            silo,
            status,
            HostName: reader.GetString(5),
            StartTime: reader.GetFieldValue<DateTimeOffset>(6),
            IAmAliveTime: reader.GetFieldValue<DateTimeOffset>(7),
            Suspicions: [.. voters.Zip(voteTimes, (voter, time) => new Suspicion(SiloAddress.Parse(voter), new DateTimeOffset(time)))],
            Roles: reader.GetFieldValue<string[]>(10),
            Devices: reader.GetInt32(11));
        return new VersionedEntry(entry, reader.GetInt64(12).ToString(CultureInfo.InvariantCulture));
    }

    private InvalidOperationException NotInitialized(Exception? inner) => new(
        $"the membership table of cluster '{clusterId}' in {location} is not initialized (call InitializeAsync first)", inner);

    private static TableVersion VersionOf(long version) => new(version, version.ToString(CultureInfo.InvariantCulture));

    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellation)
    {
        try
        {
            return await dataSource.OpenConnectionAsync(cancellation);
        }
        catch (NpgsqlException e)
        {
            throw new MembershipTableUnavailableException(
                $"cannot open the membership table of cluster '{clusterId}': {location} is unreachable or refused the connection ({e.Message})", e);
        }
    }
}
