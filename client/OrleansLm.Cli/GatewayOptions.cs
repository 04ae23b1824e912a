using System.CommandLine;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OrleansLm.Client;
using OrleansLm.Protos.Grpc;

namespace OrleansLm.Cli;

/// <summary>The options of every command that talks to the gateway, and the connection they describe.</summary>
internal sealed class GatewayOptions
{
    private const string DefaultAddress = "http://127.0.0.1:5081";

    public Option<string?> Gateway { get; } = new("--gateway")
    {
        Description = $"the gateway's URL, http:// (h2c) or https:// [default: $OLM_GATEWAY, else {DefaultAddress}]", Recursive = true,
    };

    // No DefaultValueFactory: help would print the token.
    public Option<string?> Token { get; } = new("--token") { Description = "bearer token for the gateway [default: $OLM_TOKEN]", Recursive = true };

    public Option<FileInfo?> CaCert { get; } = new("--ca-cert") { Description = "PEM file of CA certificates to trust for an https:// gateway", Recursive = true };

    public Option<double?> Timeout { get; } = new("--timeout")
    {
        Description = $"seconds a call may take [default: {GatewaySession.DefaultCallTimeout.TotalSeconds:0}, none for watching and generating]",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json") { Description = "machine-readable output: one JSON object per line", Recursive = true };

    /// <summary>Adds the options to <paramref name="command"/> and its subcommands.</summary>
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Gateway, Token, CaCert, Timeout, Json }) command.Options.Add(option);
    }

    /// <summary>
    /// Runs <paramref name="action"/> against the gateway the options name; a failed call prints
    /// <c>error: STATUS: detail</c> and exits with <see cref="ExitCodes.For(StatusCode)"/>.
    /// </summary>
    public async Task<int> RunAsync(ParseResult parse, Func<GatewaySession, Task<int>> action)
    {
        var json = parse.GetValue(Json);
        var (connection, error) = Connect(parse);
        if (connection is null) return Cli.Fail(error!, json);
        var timeout = parse.GetValue(Timeout) is { } seconds ? TimeSpan.FromSeconds(seconds) : (TimeSpan?)null;
        try
        {
            return await action(new GatewaySession(connection, json, timeout));
        }
        catch (RpcException e)
        {
            return Cli.Fail(e, json);
        }
        finally
        {
            connection.Dispose();
        }
    }

    private (GatewayConnection? Connection, string? Error) Connect(ParseResult parse)
    {
        var addressText = parse.GetValue(Gateway) ?? NonEmpty(Environment.GetEnvironmentVariable("OLM_GATEWAY")) ?? DefaultAddress;
        var from = parse.GetValue(Gateway) is null ? "$OLM_GATEWAY" : "--gateway";
        if (!Uri.TryCreate(addressText, UriKind.Absolute, out var address) || address.Scheme is not ("http" or "https"))
            return (null, $"{from}: '{addressText}' is not an absolute http:// or https:// URL");
        if (parse.GetValue(Timeout) is <= 0) return (null, "--timeout: must be positive");

        X509Certificate2Collection? authorities = null;
        if (parse.GetValue(CaCert) is { } file)
        {
            if (address.Scheme != "https") return (null, $"--ca-cert: applies to an https:// gateway, not {address}");
            if (!file.Exists) return (null, $"--ca-cert: {file.FullName} does not exist");
            authorities = [];
            try
            {
                authorities.ImportFromPemFile(file.FullName);
            }
            catch (CryptographicException e)
            {
                return (null, $"--ca-cert: {file.FullName} is not a PEM certificate file: {e.Message}");
            }
            if (authorities.Count == 0) return (null, $"--ca-cert: {file.FullName} holds no PEM certificate");
        }
        var token = parse.GetValue(Token) ?? NonEmpty(Environment.GetEnvironmentVariable("OLM_TOKEN"));
        try
        {
            return (new GatewayConnection(new GatewayConnectionOptions { Address = address, Token = token, TrustedAuthorities = authorities }), null);
        }
        catch (ArgumentException e) when (e.ParamName == nameof(GatewayConnectionOptions.Token))
        {
            // The message, never the token.
            return (null, $"{(parse.GetValue(Token) is null ? "$OLM_TOKEN" : "--token")}: {e.Message.Split(" (Parameter")[0]}");
        }
    }

    private static string? NonEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}

/// <summary>A command's connection to the gateway, with its clients, output mode and deadlines.</summary>
internal sealed class GatewaySession(GatewayConnection connection, bool json, TimeSpan? timeout)
{
    /// <summary>How long a single call may take when --timeout does not say.</summary>
    public static readonly TimeSpan DefaultCallTimeout = TimeSpan.FromSeconds(30);

    public TrainingClient Training { get; } = new(connection);
    public SamplingClient Sampling { get; } = new(connection);

    /// <summary>--json: write JSON lines instead of tables and progress bars.</summary>
    public bool Json => json;

    /// <summary>The deadline of a call that answers at once: a query or a control.</summary>
    public TimeSpan CallTimeout => timeout ?? DefaultCallTimeout;

    /// <summary>The deadline of watching a run or generating text, which take as long as they take unless --timeout says.</summary>
    public TimeSpan? LongCallTimeout => timeout;
}
