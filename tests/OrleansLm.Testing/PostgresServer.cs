using Npgsql;
using OrleansLm.Runtime.Membership;

namespace OrleansLm.Testing;

/// <summary>
/// A private PostgreSQL server for tests: the Debian binaries (package postgresql) initialize a cluster in a temp
/// directory and serve it on a free loopback port, with trust authentication and durability off (it is thrown
/// away). initdb refuses to run as root, so under root the server runs as the postgres (or nobody) user.
/// Disposing stops the server and deletes the directory.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private const string SuperUser = "postgres";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly string binDirectory;
    private readonly string? runAs;
    private readonly DirectoryInfo root;
    private readonly string dataDirectory;

    private PostgresServer(string binDirectory, string? runAs, DirectoryInfo root, int port)
    {
        this.binDirectory = binDirectory;
        this.runAs = runAs;
        this.root = root;
        dataDirectory = Path.Combine(root.FullName, "data");
        Port = port;
    }

    public int Port { get; }

    /// <summary>A connection string to <paramref name="database"/> on this server as its superuser, through <paramref name="host"/>.</summary>
    public string ConnectionString(string database = "postgres", string host = "127.0.0.1") =>
        new NpgsqlConnectionStringBuilder { Host = host, Port = Port, Username = SuperUser, Database = database }.ConnectionString;

    public static Task<PostgresServer> StartAsync(CancellationToken cancellation = default) => StartAsync([], cancellation);

    /// <param name="extraListenAddresses">
    /// Addresses to listen on besides loopback (a test network's, e.g. a veth end); clients on their subnets are trusted.
    /// </param>
    public static async Task<PostgresServer> StartAsync(IReadOnlyList<string> extraListenAddresses, CancellationToken cancellation = default)
    {
        var binDirectory = FindBinDirectory();
        var runAs = Environment.IsPrivilegedProcess ? UnprivilegedUser() : null;
        var root = Directory.CreateTempSubdirectory("orleanslm-pg-");
        try
        {
            var socketDirectory = root.CreateSubdirectory("run").FullName;
            if (runAs is not null)
                await Tool.RunAsync("chown", ["-R", runAs, root.FullName], cancellation);

            var server = new PostgresServer(binDirectory, runAs, root, LoopbackPorts.Free());
            await server.RunServerToolAsync(
                "initdb", ["-D", server.dataDirectory, "-U", SuperUser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                cancellation);
            if (extraListenAddresses.Count > 0)
                await File.AppendAllTextAsync(Path.Combine(server.dataDirectory, "pg_hba.conf"), "host all all samenet trust\n", cancellation);
            var listenAddresses = string.Join(',', ["127.0.0.1", .. extraListenAddresses]);
            var serverOptions = $"-p {server.Port} -k {socketDirectory} -c listen_addresses={listenAddresses} "
                + "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200";
            await server.RunServerToolAsync(
                "pg_ctl",
                ["start", "-D", server.dataDirectory, "-w", "-t", ((int)StartTimeout.TotalSeconds).ToString(),
                    "-l", Path.Combine(root.FullName, "server.log"), "-o", serverOptions],
                cancellation);
            await server.WaitUntilReadyAsync(cancellation);
            return server;
        }
        catch (Exception e)
        {
            var log = Path.Combine(root.FullName, "server.log");
            var tail = File.Exists(log) ? string.Join('\n', File.ReadLines(log).TakeLast(20)) : "(no server log)";
            await TryStopAsync(binDirectory, runAs, Path.Combine(root.FullName, "data"));
            root.Delete(recursive: true);
            throw new InvalidOperationException($"could not start a test PostgreSQL server: {e.Message}\nserver log:\n{tail}", e);
        }
    }

    /// <summary>Creates an empty database and returns a connection string to it.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellation = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync(cancellation);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name.Replace("\"", "\"\"")}\"", connection);
        await command.ExecuteNonQueryAsync(cancellation);
        return ConnectionString(name);
    }

    /// <summary>The rows of <paramref name="clusterId"/>'s membership table in the server's default database, as its silos wrote them.</summary>
    public async Task<IReadOnlyList<MembershipEntry>> MembershipAsync(string clusterId)
    {
        await using var table = new PostgresMembershipTable(new PostgresMembershipOptions(ConnectionString(), clusterId));
        return [.. (await table.ReadAllAsync(CancellationToken.None)).Entries.Select(e => e.Entry)];
    }

    public async ValueTask DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await TryStopAsync(binDirectory, runAs, dataDirectory);
        root.Delete(recursive: true);
    }

    private static string FindBinDirectory()
    {
        // Debian installs each major version side by side; the newest wins.
        var versions = Directory.Exists("/usr/lib/postgresql") ? Directory.GetDirectories("/usr/lib/postgresql") : [];
        return versions
            .Select(version => Path.Combine(version, "bin"))
            .Where(bin => File.Exists(Path.Combine(bin, "initdb")) && File.Exists(Path.Combine(bin, "pg_ctl")))
            .OrderByDescending(bin => int.TryParse(Path.GetFileName(Path.GetDirectoryName(bin)), out var major) ? major : 0)
            .FirstOrDefault()
            ?? throw new InvalidOperationException(
                "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin: install the Debian package postgresql (scripts/setup.sh does)");
    }

    private static string UnprivilegedUser()
    {
        var users = File.ReadLines("/etc/passwd").Select(line => line.Split(':')[0]).ToHashSet();
        return users.Contains(SuperUser) ? SuperUser
            : users.Contains("nobody") ? "nobody"
            : throw new InvalidOperationException("running as root, but neither user postgres nor nobody exists to run PostgreSQL as");
    }

    private Task RunServerToolAsync(string tool, IReadOnlyList<string> arguments, CancellationToken cancellation) =>
        RunToolAsync(binDirectory, runAs, tool, arguments, cancellation);

    private static Task RunToolAsync(
        string binDirectory, string? runAs, string tool, IReadOnlyList<string> arguments, CancellationToken cancellation)
    {
        var path = Path.Combine(binDirectory, tool);
        return runAs is null
            ? Tool.RunAsync(path, arguments, cancellation)
            : Tool.RunAsync("runuser", ["-u", runAs, "--", path, .. arguments], cancellation);
    }

    private static async Task TryStopAsync(string binDirectory, string? runAs, string dataDirectory)
    {
        if (!File.Exists(Path.Combine(dataDirectory, "postmaster.pid")))
            return;
        using var timeout = new CancellationTokenSource(StartTimeout);
        try
        {
            await RunToolAsync(binDirectory, runAs, "pg_ctl", ["stop", "-D", dataDirectory, "-m", "immediate", "-w"], timeout.Token);
        }
        catch (Exception e) when (e is InvalidOperationException or OperationCanceledException)
        {
            // The server may already be gone; deleting its directory also makes a survivor shut itself down.
        }
    }

    private async Task WaitUntilReadyAsync(CancellationToken cancellation)
    {
        // pg_ctl -w already waited for the postmaster; this confirms TCP connections are accepted.
        var deadline = DateTime.UtcNow + StartTimeout;
        while (true)
        {
            try
            {
                await using var connection = new NpgsqlConnection(ConnectionString() + ";Pooling=false");
                await connection.OpenAsync(cancellation);
                return;
            }
            catch (NpgsqlException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellation);
            }
        }
    }
}
