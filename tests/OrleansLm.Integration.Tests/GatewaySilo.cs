using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OrleansLm.Protos.V1;
using OrleansLm.Silo.Gateway;
using OrleansLm.Testing;
using OrleansLm.Testing.Processes;
using Xunit.Abstractions;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// A class fixture: one silo process (silo/, OrleansLm.Silo.dll) serving the gRPC gateway over h2c, alone in its
/// cluster (no PostgreSQL), with an admin and a sampling token, anonymous sampling off, and small limits that tests
/// can reach. Its checkpoints, models and files live in a temporary directory that goes with it.
/// <see cref="TlsGatewaySilo"/> serves the gateway over TLS instead.
/// </summary>
public class GatewaySilo : IAsyncLifetime
{
    /// <summary>Gateway:MaxReceiveMessageBytes: small, so that tests exceed it cheaply.</summary>
    public const int MaxReceiveMessageBytes = 64 * 1024;

    /// <summary>Gateway:MaxNewTokens: high enough that a generation of this many tokens outlasts a cancelling client.</summary>
    public const int MaxNewTokens = 4096;

    /// <summary>Gateway:DefaultMaxNewTokens, unlike the application's default.</summary>
    public const int DefaultMaxNewTokens = 32;

    /// <summary>Gateway:MaxSamples.</summary>
    public const int MaxSamples = 4;

    /// <summary>
    /// Cluster:Devices: one per worker of the runs tests keep going at once (a run's workers give their devices back
    /// when it ends).
    /// </summary>
    private const int Devices = 4;

    private static readonly TimeSpan GatewayLineWait = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ExitWait = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan TrainingWait = TimeSpan.FromSeconds(60);

    private const string Text = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings and arrows ";

    /// <summary>What the silo logs, once started, before its URLs (silo/Program.cs).</summary>
    private const string ListeningOn = " listening on ";

    private readonly ProcessCluster cluster;
    private SiloProcess? silo;
    private Uri? address;
    private Uri? httpAddress;

    public GatewaySilo(IMessageSink diagnostics)
    {
        cluster = new ProcessCluster(new MessageSinkOutput(diagnostics));
        Root = Directory.CreateTempSubdirectory("olm-gateway-").FullName;
    }

    /// <summary>The temporary directory everything of this silo lives in.</summary>
    public string Root { get; }

    public string CheckpointRoot => Path.Combine(Root, "checkpoints");

    /// <summary>Gateway:ModelDirectory, where ExportModel writes.</summary>
    public string ModelDirectory => Path.Combine(Root, "models");

    /// <summary>A small text that runs (<see cref="RunYaml"/>) train on.</summary>
    public string CorpusPath => Path.Combine(Root, "corpus.txt");

    public string AdminToken { get; } = NewToken("admin");

    public string SamplingToken { get; } = NewToken("sampling");

    /// <summary>The gateway's URL as the silo printed it (http:// or https://, 127.0.0.1 and the bound port).</summary>
    public Uri Address => address ?? throw new InvalidOperationException("the gateway silo has not started");

    /// <summary>The silo's own HTTP/1.1 URL (--urls: /healthz and the live page), the one of its URLs that is not the gateway's.</summary>
    public Uri HttpAddress => httpAddress ?? throw new InvalidOperationException("the gateway silo has not started");

    public SiloProcess Silo => silo ?? throw new InvalidOperationException("the gateway silo has not started");

    /// <summary>The silo's last lines of output, for assertion messages (fixtures' output shows only as diagnostics).</summary>
    public string OutputTail(int lines = 60) => string.Join('\n', Silo.Lines.TakeLast(lines));

    /// <summary>
    /// A run.yaml of a character-level Transformer on <see cref="CorpusPath"/> that trains a step in milliseconds on one
    /// thread; prompt plus generation within its block of 32 characters see whole contexts.
    /// </summary>
    /// <param name="learningRate">optimizer.lr as YAML writes it; the default learns the corpus within a second.</param>
    public string RunYaml(int steps, int evalEvery, string learningRate = "1.0e-2") => $"""
        data:
          path: {CorpusPath}
          tokenizer: char
          block_size: 32
          batch_size: 4
          seed: 3
        model:
          family: transformer
          layers: 1
          heads: 2
          dim: 32
        optimizer:
          lr: {learningRate}
        schedule:
          warmup: 2
        training:
          steps: {steps}
          eval_every: {evalEvery}
          eval_batches: 2
          seed: 5
        """;

    public virtual async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(CorpusPath, string.Concat(Enumerable.Repeat(Text, 40)));
        var launch = SiloApplication.Launch(cluster, postgres: "", roles: [], Devices, CheckpointRoot);
        var environment = new Dictionary<string, string>(launch.Environment)
        {
            ["OLM_Gateway__Listen"] = "http://127.0.0.1:0",
            ["OLM_Gateway__AdminToken"] = AdminToken,
            ["OLM_Gateway__SamplingToken"] = SamplingToken,
            ["OLM_Gateway__AnonymousSampling"] = "false",
            ["OLM_Gateway__ModelDirectory"] = ModelDirectory,
            ["OLM_Gateway__MaxReceiveMessageBytes"] = Invariant(MaxReceiveMessageBytes),
            ["OLM_Gateway__MaxNewTokens"] = Invariant(MaxNewTokens),
            ["OLM_Gateway__DefaultMaxNewTokens"] = Invariant(DefaultMaxNewTokens),
            ["OLM_Gateway__MaxSamples"] = Invariant(MaxSamples),
            // The dispatcher logs cancelled and refused calls at Debug: tests read those lines.
            ["OLM_Logging__LogLevel__OrleansLm.Silo.Gateway"] = "Debug",
        };
        Configure(environment);
        silo = await cluster.StartProcessAsync(launch with { Environment = environment });
        address = await SiloApplication.GatewayAsync(silo, GatewayLineWait);
        // The silo logs its URLs at the moment it prints the gateway's line, through another writer.
        await Eventually.HoldsAsync(() => (httpAddress = silo.Lines.Select(line => OwnUrl(line, address)).FirstOrDefault(url => url is not null)) is not null,
            GatewayLineWait, "the silo logs its URLs");
    }

    /// <summary>The first URL a "... listening on URL, URL" line names other than the gateway's; null for other lines.</summary>
    private static Uri? OwnUrl(string line, Uri gateway)
    {
        var at = line.IndexOf(ListeningOn, StringComparison.Ordinal);
        if (at < 0) return null;
        return line[(at + ListeningOn.Length)..].Split(", ")
            .Select(url => Uri.TryCreate(url.Trim(), UriKind.Absolute, out var parsed) ? parsed : null)
            .FirstOrDefault(url => url is not null && url.Port != gateway.Port);
    }

    /// <summary>Changes the silo's environment before it starts (OLM_* variables, as an operator sets them).</summary>
    protected virtual void Configure(IDictionary<string, string> environment)
    {
    }

    /// <summary>A raw gRPC client of the gateway (h2c; <see cref="TlsGatewaySilo"/> trusts its certificate).</summary>
    public virtual RawGrpcClient Client() => new(Address);

    /// <summary>Trains a <see cref="RunYaml"/> run of <paramref name="steps"/> steps to its end and exports it as <paramref name="model"/>.</summary>
    public async Task<ExportModelResponse> TrainModelAsync(string model, int steps)
    {
        await TrainRunAsync(model, steps, evalEvery: 0);
        using var client = Client();
        return await client.UnaryAsync<ExportModelResponse>("/olm.v1.TrainingService/ExportModel",
            new ExportModelRequest { RunId = model, ModelName = model }, AdminToken);
    }

    /// <summary>Trains a <see cref="RunYaml"/> run through the gateway to its end; returns its status then.</summary>
    public async Task<Run> TrainRunAsync(string runId, int steps, int evalEvery)
    {
        using var client = Client();
        await client.UnaryAsync<Run>("/olm.v1.TrainingService/StartRun",
            new StartRunRequest { RunId = runId, Config = RunYaml(steps, evalEvery) }, AdminToken);
        var run = new Run();
        await Eventually.HoldsAsync(async () =>
        {
            run = await client.UnaryAsync<Run>("/olm.v1.TrainingService/GetRun", new GetRunRequest { RunId = runId }, AdminToken);
            return run.State is not (RunState.Running or RunState.Paused);
        }, TrainingWait, $"run {runId} ends");
        if (run.State != RunState.Completed) throw new InvalidOperationException($"run {runId} ended {run.State}: {run.Error}");
        return run;
    }

    public virtual async Task DisposeAsync()
    {
        if (silo is { HasExited: false })
        {
            silo.Terminate();
            try
            {
                await silo.WaitForExitAsync(ExitWait);
            }
            catch (TimeoutException)
            {
                // Disposing the cluster kills it.
            }
        }
        await cluster.DisposeAsync();
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open: the directory is temporary anyway.
        }
    }

    private static string NewToken(string role) => $"{role}-{Convert.ToHexString(RandomNumberGenerator.GetBytes(16))}";

    protected static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>
/// <see cref="GatewaySilo"/> with its gateway on https:// (HTTP/2 through TLS's ALPN), presenting a self-signed
/// certificate for 127.0.0.1 made for it (<see cref="CertificatePath"/>, PEM; key at <see cref="KeyPath"/>).
/// </summary>
public sealed class TlsGatewaySilo(IMessageSink diagnostics) : GatewaySilo(diagnostics)
{
    private X509Certificate2? certificate;

    public X509Certificate2 Certificate => certificate ?? throw new InvalidOperationException("the gateway silo has not started");

    public string CertificatePath => Path.Combine(Root, "gateway.crt");

    public string KeyPath => Path.Combine(Root, "gateway.key");

    public override RawGrpcClient Client() => new(Address, RawGrpcClient.Trusting(Certificate));

    protected override void Configure(IDictionary<string, string> environment)
    {
        certificate = SelfSignedCertificate.Write(CertificatePath, KeyPath);
        environment["OLM_Gateway__Listen"] = "https://127.0.0.1:0";
        environment["OLM_Gateway__CertificatePath"] = CertificatePath;
        environment["OLM_Gateway__CertificateKeyPath"] = KeyPath;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        certificate?.Dispose();
    }
}
