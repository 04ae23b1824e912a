using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using OrleansLm.Cli;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;
using static OrleansLm.Integration.Tests.OlmProcess;

namespace OrleansLm.Integration.Tests;

/// <summary>The <c>olm</c> commands that talk to the gateway, run as a child process against <see cref="FakeGateway"/>.</summary>
public class GatewayCliTests
{
    private static readonly Dictionary<string, string?> NoGatewayEnvironment = new() { ["OLM_GATEWAY"] = null, ["OLM_TOKEN"] = null };

    [Fact]
    public async Task RunStatusWritesJsonLinesAndMapsStatusesToExitCodes()
    {
        var authorizations = new List<string?>();
        await using var gateway = await FakeGateway.StartAsync(app =>
        {
            app.MapPost("/olm.v1.TrainingService/GetRun", async context =>
            {
                authorizations.Add(context.Request.Headers.Authorization.FirstOrDefault());
                var request = await FakeGateway.ReadRequestAsync(context, GetRunRequest.Parser);
                if (request.RunId != "demo")
                {
                    FakeGateway.EndTrailersOnly(context, StatusCode.NotFound, $"run '{request.RunId}' does not exist");
                    return;
                }
                await FakeGateway.BeginAsync(context);
                await FakeGateway.SendAsync(context, new Run
                {
                    RunId = "demo", State = RunState.Running, Step = 12, TotalSteps = 100, Loss = 2.5, ValidationLoss = double.NaN,
                    Workers = 2, RequestedWorkers = 2, EtaSeconds = 30, CheckpointStep = -1, ModelFamily = "transformer",
                });
                FakeGateway.End(context, StatusCode.OK);
            });
            app.MapPost("/olm.v1.TrainingService/ListRuns", async context =>
            {
                await FakeGateway.ReadRequestAsync(context, ListRunsRequest.Parser);
                await Task.Delay(TimeSpan.FromSeconds(10), context.RequestAborted);
            });
        });
        var address = gateway.Address.ToString();
        var withToken = new Dictionary<string, string?> { ["OLM_GATEWAY"] = address, ["OLM_TOKEN"] = "token-from-env" };

        var (exitCode, output) = await RunOlm(withToken, "run", "status", "demo", "--json");
        exitCode.Should().Be(ExitCodes.Ok, output);
        var run = JsonNode.Parse(output)!;
        run["run_id"]!.GetValue<string>().Should().Be("demo");
        run["state"]!.GetValue<string>().Should().Be("running");
        run["step"]!.GetValue<long>().Should().Be(12);
        run["loss"]!.GetValue<double>().Should().Be(2.5);
        run["validation_loss"].Should().BeNull("NaN is not JSON");
        authorizations.Should().Equal("Bearer token-from-env");
        output.Should().NotContain("token-from-env");

        var (missing, missingOutput) = await RunOlm(NoGatewayEnvironment, "run", "status", "nope", "--gateway", address);
        missing.Should().Be(ExitCodes.NotFound, missingOutput);
        missingOutput.Should().Contain("error").And.Contain("NOT_FOUND: run 'nope'");
        authorizations.Should().HaveCount(2).And.EndWith((string?)null, "no --token and no $OLM_TOKEN");

        var (missingJson, missingJsonOutput) = await RunOlm(NoGatewayEnvironment, "run", "status", "nope", "--gateway", address, "--json");
        missingJson.Should().Be(ExitCodes.NotFound, missingJsonOutput);
        var error = JsonNode.Parse(missingJsonOutput)!;
        error["status"]!.GetValue<string>().Should().Be("NOT_FOUND");
        error["error"]!.GetValue<string>().Should().Be("run 'nope' does not exist");

        var (late, lateOutput) = await RunOlm(NoGatewayEnvironment, "run", "status", "--gateway", address, "--timeout", "0.5");
        late.Should().Be(ExitCodes.DeadlineExceeded, lateOutput);
        lateOutput.Should().Contain("DEADLINE_EXCEEDED");
    }

    [Fact]
    public async Task RunStartSendsTheBuiltInRunAndWatchExitsAsTheRunEnded()
    {
        StartRunRequest? started = null;
        var watchedFrom = new List<long>();
        await using var gateway = await FakeGateway.StartAsync(app =>
        {
            app.MapPost("/olm.v1.TrainingService/StartRun", async context =>
            {
                started = await FakeGateway.ReadRequestAsync(context, StartRunRequest.Parser);
                await FakeGateway.BeginAsync(context);
                await FakeGateway.SendAsync(context, new Run { RunId = started.RunId, State = RunState.Running, TotalSteps = 3, ValidationLoss = double.NaN });
                FakeGateway.End(context, StatusCode.OK);
            });
            app.MapPost("/olm.v1.TrainingService/WatchRun", async context =>
            {
                var request = await FakeGateway.ReadRequestAsync(context, WatchRunRequest.Parser);
                watchedFrom.Add(request.FromStep);
                await FakeGateway.BeginAsync(context);
                await FakeGateway.SendAsync(context, new RunEvent { Status = new Run { RunId = request.RunId, State = RunState.Running, TotalSteps = 3 } });
                for (var step = 1; step <= 3; step++)
                    await FakeGateway.SendAsync(context, new RunEvent { Step = new StepEvent { Step = step, TotalSteps = 3, Loss = 3.0 / step } });
                await FakeGateway.SendAsync(context, new RunEvent
                {
                    Status = new Run { RunId = request.RunId, State = RunState.Failed, Step = 3, TotalSteps = 3, Error = "worker w1 lost" },
                });
                FakeGateway.End(context, StatusCode.OK);
            });
        });
        var address = gateway.Address.ToString();

        var (exitCode, output) = await RunOlm(NoGatewayEnvironment,
            "run", "start", "--run-id", "r1", "--workers", "2", "--parameter-servers", "3", "--watch", "--json", "--gateway", address);

        exitCode.Should().Be(ExitCodes.RunFailed, output);
        using (var builtIn = new StreamReader(typeof(TrainCommand).Assembly.GetManifestResourceStream("default-run.yaml")!))
            started!.Config.Should().Be(await builtIn.ReadToEndAsync());
        (started.RunId, started.Workers, started.ParameterServers).Should().Be(("r1", 2, 3));
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!).ToList();
        lines[0]["run_id"]!.GetValue<string>().Should().Be("r1");
        lines.Skip(1).Select(line => line["event"]!.GetValue<string>()).Should().Equal("status", "step", "step", "step", "status");
        lines.Where(line => line["event"]?.GetValue<string>() == "step").Select(line => line["loss"]!.GetValue<double>()).Should().Equal(3.0, 1.5, 1.0);
        lines[^1]["state"]!.GetValue<string>().Should().Be("failed");

        var (watched, watchOutput) = await RunOlm(NoGatewayEnvironment, "run", "watch", "r1", "--gateway", address);
        watched.Should().Be(ExitCodes.RunFailed, watchOutput);
        watchOutput.Should().Contain("failed").And.Contain("worker w1 lost");
        watchedFrom.Should().Equal([0, -1], "start --watch replays from the first step, watch follows from now");
    }

    [Fact]
    public async Task SampleStreamsTheGatewaysTokensAfterThePromptAndDrawsSeveralSamplesInOneCall()
    {
        GenerateRequest? streamed = null;
        GenerateRequest? drawn = null;
        await using var gateway = await FakeGateway.StartAsync(app =>
        {
            app.MapPost("/olm.v1.SamplingService/GenerateStream", async context =>
            {
                streamed = await FakeGateway.ReadRequestAsync(context, GenerateRequest.Parser);
                await FakeGateway.BeginAsync(context);
                foreach (var text in new[] { "l", "o", " ", "w" })
                    await FakeGateway.SendAsync(context, new GenerateChunk { Token = new GeneratedToken { Text = text, Logprob = -0.5 } });
                await FakeGateway.SendAsync(context, new GenerateChunk { FinishReason = FinishReason.Length });
                FakeGateway.End(context, StatusCode.OK);
            });
            app.MapPost("/olm.v1.SamplingService/Generate", async context =>
            {
                drawn = await FakeGateway.ReadRequestAsync(context, GenerateRequest.Parser);
                await FakeGateway.BeginAsync(context);
                var response = new GenerateResponse { Model = drawn.Model, PromptTokens = 3 };
                for (var i = 0; i < drawn.N; i++) response.Completions.Add(new Completion { Index = i, Text = $"p{i}", FinishReason = FinishReason.Stop });
                await FakeGateway.SendAsync(context, response);
                FakeGateway.End(context, StatusCode.OK);
            });
        });
        var address = gateway.Address.ToString();

        var (exitCode, output) = await RunOlm(NoGatewayEnvironment, "sample", "--model", "run:demo", "--prompt", "hel", "--max-tokens", "4",
            "--temperature", "0.5", "--top-k", "5", "--seed", "3", "--stop", ".", "--gateway", address);

        exitCode.Should().Be(ExitCodes.Ok, output);
        output.Should().Be("hello w\n");
        var expected = new GenerateRequest
        {
            Model = "run:demo", Prompt = "hel", MaxNewTokens = 4, Temperature = 0.5, TopK = 5, TopP = 1, RepetitionPenalty = 1,
            LengthPenalty = 1, Seed = 3, N = 1, Stop = { "." },
        };
        streamed.Should().Be(expected);

        var (severalExit, severalOutput) = await RunOlm(NoGatewayEnvironment, "sample", "--model", "run:demo", "--prompt", "hel",
            "--samples", "2", "--json", "--gateway", address);
        severalExit.Should().Be(ExitCodes.Ok, severalOutput);
        drawn!.N.Should().Be(2);
        severalOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!)
            .Select(line => (line["model"]!.GetValue<string>(), line["text"]!.GetValue<string>(), line["finish_reason"]!.GetValue<string>()))
            .Should().Equal(("run:demo", "p0", "stop"), ("run:demo", "p1", "stop"));
    }

    [Fact]
    public async Task InterruptingAStreamedSampleCancelsItOnTheGateway()
    {
        var aborted = new TaskCompletionSource();
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.SamplingService/GenerateStream", async context =>
        {
            await FakeGateway.ReadRequestAsync(context, GenerateRequest.Parser);
            await FakeGateway.BeginAsync(context);
            await FakeGateway.SendAsync(context, new GenerateChunk { Token = new GeneratedToken { Text = "lo" } });
            try
            {
                await Task.Delay(Timeout.Infinite, context.RequestAborted);
            }
            catch (OperationCanceledException)
            {
                aborted.TrySetResult();
            }
        }));
        using var olm = Start(NoGatewayEnvironment, "sample", "--model", "run:demo", "--prompt", "hel", "--gateway", gateway.Address.ToString());
        var stderr = olm.StandardError.ReadToEndAsync();
        var shown = new char[5];
        (await olm.StandardOutput.ReadBlockAsync(shown)).Should().Be(5);
        new string(shown).Should().Be("hello", "the prompt, then the token as it arrived");

        Interrupt(olm);
        var rest = await olm.StandardOutput.ReadToEndAsync();
        await olm.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));

        olm.ExitCode.Should().Be(ExitCodes.Cancelled, rest + await stderr);
        rest.Should().Contain("CANCELLED");
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData("sample", "--prompt")]
    [InlineData("score", "--text")]
    public async Task CommandsUsingAModelRefuseBothOrNeitherOfCheckpointAndModel(string command, string textOption)
    {
        var (neither, neitherOutput) = await RunOlm(NoGatewayEnvironment, command, textOption, "abc");
        neither.Should().Be(ExitCodes.BadInput, neitherOutput);
        neitherOutput.Should().Contain("--checkpoint").And.Contain("--model");

        var (both, bothOutput) = await RunOlm(NoGatewayEnvironment, command, "--checkpoint", "x.safetensors", "--model", "run:demo", textOption, "abc");
        both.Should().Be(ExitCodes.BadInput, bothOutput);
        bothOutput.Should().Contain("not both");
    }

    [Fact]
    public async Task ModelsOverTlsTrustsTheAuthorityGivenByCaCert()
    {
        using var authority = CertificateAuthority.Create();
        using var serverCertificate = authority.Issue();
        await using var gateway = await FakeGateway.StartAsync(app => app.MapPost("/olm.v1.SamplingService/ListModels", async context =>
        {
            await FakeGateway.BeginAsync(context);
            await FakeGateway.SendAsync(context, new ListModelsResponse
            {
                Models =
                {
                    new ModelInfo { Model = "run:demo", Source = ModelInfo.Types.Source.Run, RunState = RunState.Paused, Step = 7 },
                    new ModelInfo { Model = "shakespeare", Source = ModelInfo.Types.Source.Export, SizeBytes = 1 << 20 },
                },
            });
            FakeGateway.End(context, StatusCode.OK);
        }), serverCertificate);
        var caFile = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(caFile, authority.Pem());

            var (exitCode, output) = await RunOlm(NoGatewayEnvironment, "models", "--json", "--gateway", gateway.Address.ToString(), "--ca-cert", caFile);

            exitCode.Should().Be(ExitCodes.Ok, output);
            output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonNode.Parse(line)!)
                .Select(line => (line["model"]!.GetValue<string>(), line["source"]!.GetValue<string>(), line["run_state"]!.GetValue<string>()))
                .Should().Equal(("run:demo", "run", "paused"), ("shakespeare", "export", "unspecified"));

            var (untrusted, untrustedOutput) = await RunOlm(NoGatewayEnvironment, "models", "--gateway", gateway.Address.ToString());
            untrusted.Should().Be(ExitCodes.Unavailable, untrustedOutput);
            untrustedOutput.Should().Contain("UNAVAILABLE");
        }
        finally
        {
            File.Delete(caFile);
        }
    }
}
