using System.Diagnostics;
using System.Text.RegularExpressions;
using OrleansLm.Cli;
using OrleansLm.Client;
using OrleansLm.Model.Training;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;
using OrleansLm.Runtime.Membership;
using OrleansLm.Silo.Grains;
using OrleansLm.Testing;
using OrleansLm.Testing.Processes;
using Xunit.Abstractions;
using RunState = OrleansLm.Protos.V1.RunState;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// What an orchestrator does to silos, done to real processes: three silo application processes (workers, one device
/// each, every one with a gateway) with membership and run state in a real PostgreSQL and checkpoints under one root.
/// A run is started through the first silo's gateway, so its coordinator lives there. SIGTERM makes a silo hand its
/// runs off with a checkpoint of the current step and leave within Silo:ShutdownSeconds; a rolling restart of every
/// silo, one after the other, leaves a run that completes on the undisturbed trajectory.
/// </summary>
public sealed partial class GracefulDrainTests(PostgresFixture postgres, ITestOutputHelper output) : IClassFixture<PostgresFixture>, IAsyncLifetime
{
    private const int SiloProcesses = 3;
    private const int Workers = 3;
    private const int ParameterServers = 3;
    private const int ShutdownSeconds = 20;
    private const string AdminToken = "drain-tests-admin-token";

    /// <summary>Bounds every wait on a run; the tests take far less unless something is wrong.</summary>
    private static readonly TimeSpan RunLimit = TimeSpan.FromMinutes(2);

    private readonly string corpusPath = Path.Combine(Path.GetTempPath(), $"olm-drain-{Guid.NewGuid():N}.txt");
    private readonly DirectoryInfo checkpointRoot = Directory.CreateTempSubdirectory("olm-drain-checkpoints-");

    public Task InitializeAsync() => File.WriteAllTextAsync(corpusPath, TrainingEquivalence.Corpus);

    public Task DisposeAsync()
    {
        File.Delete(corpusPath);
        checkpointRoot.Delete(recursive: true);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task ASigtermedSiloCheckpointsItsRunLeavesTheMembershipAndExitsWithinItsShutdownTime()
    {
        const string runId = "drain-sigterm";
        var config = Config(steps: 400);
        var expected = TrainingEquivalence.SingleProcessLosses(config);
        await using var cluster = new ProcessCluster(output);
        await StartProcessesAsync(cluster);
        var leaving = cluster.Processes[0];
        await StartRunAsync(leaving, runId, config);
        var observer = cluster.Processes[1];
        var before = await UntilAsync(observer, runId, run => run.Step >= 40, "the run got going");
        using var watching = Connect(leaving);
        var streaming = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var watch = WatchUntilEndAsync(new TrainingClient(watching), runId, streaming);
        await streaming.Task.WaitAsync(RunLimit);

        var clock = Stopwatch.StartNew();
        leaving.Terminate();
        var exitCode = await leaving.WaitForExitAsync(TimeSpan.FromSeconds(ShutdownSeconds + 10));
        var exited = clock.Elapsed;
        output.WriteLine($"[test] {leaving.Name} exited with {exitCode} {exited.TotalSeconds:F1} s after SIGTERM at step ≥ {before.Step}");

        exitCode.Should().Be(0, "a graceful leave exits cleanly");
        exited.Should().BeLessThan(TimeSpan.FromSeconds(ShutdownSeconds), "Silo:ShutdownSeconds bounds a stop, open streams or not");
        var (events, end) = await watch;
        events.Should().BePositive("the watch streamed the run's steps until the silo stopped");
        end.Should().BeOfType<RpcException>().Which.Status.Should().Be(StatusCode.Unavailable, "a stopping silo ends its streams so that clients go elsewhere");
        var handedOff = HandOffStep(leaving, runId);
        handedOff.Should().BeGreaterThanOrEqualTo(before.Step, "the hand-off checkpoints the step the run had reached, not an older one");
        var row = (await postgres.Server.MembershipAsync(cluster.ClusterId)).Single(e => e.Silo == leaving.Address);
        row.Status.Should().Be(SiloStatus.Dead, "it wrote its own leave");
        row.Suspicions.Should().BeEmpty("nobody had to vote it out");

        var completed = await UntilAsync(observer, runId, run => run.State != RunState.Running, "the run completed on the other silos");
        completed.State.Should().Be(RunState.Completed, completed.Error);
        cluster.Processes.Skip(1).SelectMany(p => p.Lines)
            .Should().Contain(line => line.Contains($"run {runId} restored from the checkpoint of step {handedOff}"),
                "the coordinator that took over went on from the hand-off's checkpoint");
        ShouldReproduce(runId, expected);
    }

    [Fact]
    public async Task ARollingRestartOfEverySiloLeavesARunThatCompletesOnTheUndisturbedTrajectory()
    {
        const string runId = "drain-rolling";
        const int stepsBetweenRestarts = 30;
        var config = Config(steps: 1200);
        var expected = TrainingEquivalence.SingleProcessLosses(config);
        await using var cluster = new ProcessCluster(output);
        var gateway = new Uri($"http://127.0.0.1:{LoopbackPorts.Free()}");
        await StartProcessesAsync(cluster, gateway);
        await StartRunAsync(cluster.Processes[0], runId, config);
        // A user following the run through the first silo's address all along, with the olm client.
        var watch = OlmProcess.RunOlm("run", "watch", runId, "--gateway", gateway.ToString(), "--token", AdminToken, "--json");
        var exitCodes = new List<int>();

        for (var i = 0; i < SiloProcesses; i++)
        {
            var next = cluster.Processes[(i + 1) % SiloProcesses];
            var progress = await UntilAsync(next, runId, run => run.Step >= (i + 1) * stepsBetweenRestarts, $"the run made progress before restart {i}");
            progress.State.Should().Be(RunState.Running, $"the run should still be going at restart {i}");
            var leaving = cluster.Processes[i];
            leaving.Terminate();
            exitCodes.Add(await leaving.WaitForExitAsync(TimeSpan.FromSeconds(ShutdownSeconds + 10)));
            var successor = await cluster.RestartAsync(leaving);
            await WaitForGatewayAsync(successor);
            output.WriteLine($"[test] restart {i} at step {progress.Step}: {leaving.Name} left (exit {exitCodes[^1]}), {successor.Name} joined");
        }
        var completed = await UntilAsync(cluster.Processes[0], runId, run => run.State != RunState.Running, "the run completed");

        exitCodes.Should().AllBeEquivalentTo(0, "every silo left gracefully");
        completed.State.Should().Be(RunState.Completed, completed.Error);
        completed.Step.Should().Be(config.TrainingOrDefault.Steps);
        (await postgres.Server.MembershipAsync(cluster.ClusterId)).Should().OnlyContain(e => e.Suspicions.Count == 0, "no silo was voted out: each one left");
        ShouldReproduce(runId, expected);

        var (watchExit, watched) = await watch;
        watchExit.Should().Be(ExitCodes.Ok, $"olm run watch follows the run to its completion across the restart of the silo it watched through:\n{watched}");
        watched.Should().Contain("calling the gateway again", "the watched silo's stop ended the stream");
        StepsIn(watched).Should().Contain(config.TrainingOrDefault.Steps, "it followed the run to its last step");
    }

    /// <summary>The steps of the step events among olm's JSON lines (int64 fields are strings in protobuf's JSON).</summary>
    private static IReadOnlyList<long> StepsIn(string jsonLines) =>
    [
        .. jsonLines.Split('\n').Where(line => line.StartsWith('{')).Select(line => System.Text.Json.JsonDocument.Parse(line).RootElement)
            .Where(e => e.TryGetProperty("event", out var kind) && kind.GetString() == "step")
            .Select(e => e.GetProperty("step") is { ValueKind: System.Text.Json.JsonValueKind.String } step
                ? long.Parse(step.GetString()!, System.Globalization.CultureInfo.InvariantCulture)
                : e.GetProperty("step").GetInt64()),
    ];

    private RunConfig Config(int steps) => TrainingEquivalence.Config(corpusPath, "transformer", steps, batchSize: 2 * Workers);

    /// <param name="firstGateway">
    /// A fixed gateway URL for the first process, which its successors keep (as a Kubernetes Service's address
    /// outlives its pods); null for a port of its own like the others.
    /// </param>
    private async Task StartProcessesAsync(ProcessCluster cluster, Uri? firstGateway = null)
    {
        var launch = SiloApplication.Launch(cluster, postgres.Server.ConnectionString(), [SiloGrains.WorkerRole], devices: 1, checkpointRoot.FullName);
        var environment = new Dictionary<string, string>(launch.Environment)
        {
            ["OLM_Gateway__AdminToken"] = AdminToken,
            ["OLM_Silo__ShutdownSeconds"] = ShutdownSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        // One after the other, so that Processes[i] is the i-th launch.
        for (var i = 0; i < SiloProcesses; i++)
        {
            var own = i == 0 && firstGateway is not null
                ? new Dictionary<string, string>(environment) { ["OLM_Gateway__Listen"] = firstGateway.ToString() }
                : environment;
            await WaitForGatewayAsync(await cluster.StartProcessAsync(launch with { Environment = own }));
        }
    }

    private static Task<Uri> WaitForGatewayAsync(SiloProcess silo) => SiloApplication.GatewayAsync(silo, TimeSpan.FromSeconds(30));

    private static GatewayConnection Connect(SiloProcess silo) =>
        new(new GatewayConnectionOptions { Address = SiloApplication.GatewayOf(silo)!, Token = AdminToken });

    private static async Task StartRunAsync(SiloProcess silo, string runId, RunConfig config)
    {
        using var connection = Connect(silo);
        await new TrainingClient(connection).StartRunAsync(
            new StartRunRequest { RunId = runId, Config = ConfigFile.ToJson(config), Workers = Workers, ParameterServers = ParameterServers });
    }

    /// <summary>
    /// The run as <paramref name="silo"/>'s gateway reports it, polled until <paramref name="condition"/> holds; a call
    /// that fails (the coordinator is moving) counts as not yet.
    /// </summary>
    private async Task<Run> UntilAsync(SiloProcess silo, string runId, Func<Run, bool> condition, string what)
    {
        using var connection = Connect(silo);
        var client = new TrainingClient(connection);
        Run? run = null;
        await Eventually.HoldsAsync(async () =>
        {
            try
            {
                run = await client.GetRunAsync(new GetRunRequest { RunId = runId }, TimeSpan.FromSeconds(10));
                return condition(run);
            }
            catch (RpcException e)
            {
                output.WriteLine($"[test] GetRun through {silo.Name}: {e.Status}");
                return false;
            }
        }, RunLimit, what);
        return run!;
    }

    /// <summary>
    /// Watches the run until the stream ends (<paramref name="streaming"/> completes at its first event): the events it
    /// got, and how it ended (null for a clean end).
    /// </summary>
    private static async Task<(int Events, Exception? End)> WatchUntilEndAsync(TrainingClient client, string runId, TaskCompletionSource streaming)
    {
        var events = 0;
        try
        {
            await foreach (var _ in client.WatchRunAsync(new WatchRunRequest { RunId = runId, FromStep = -1 }))
            {
                events++;
                streaming.TrySetResult();
            }
            return (events, null);
        }
        catch (Exception e)
        {
            return (events, e);
        }
    }

    /// <summary>The step of the checkpoint <paramref name="silo"/> logged handing <paramref name="runId"/> off with.</summary>
    private static long HandOffStep(SiloProcess silo, string runId)
    {
        var handOffs = silo.Lines.Select(line => HandOffLine().Match(line)).Where(m => m.Success && m.Groups["run"].Value == runId).ToList();
        handOffs.Should().ContainSingle($"{silo.Name} hands {runId} off once as it leaves");
        return long.Parse(handOffs[0].Groups["step"].Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    [GeneratedRegex(@"run (?<run>\S+) handed off: its newest checkpoint is of step (?<step>-?\d+)")]
    private static partial Regex HandOffLine();


    /// <summary>The run's final checkpoint holds every step's loss, each the single-process trainer's.</summary>
    private void ShouldReproduce(string runId, IReadOnlyList<double> expected)
    {
        var final = RunManifest.ReadVerified(RunManifest.Directory(Path.Combine(checkpointRoot.FullName, runId), expected.Count), runId);
        TrainingEquivalence.ShouldReproduceLosses(final.Losses, expected);
    }
}
