using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Google.Protobuf.Reflection;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Microsoft.Extensions.Options;
using OrleansLm.Model.Training;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;
using OrleansLm.Runtime.Grains;
using OrleansLm.Silo.Gateway.Grpc;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Runs;
using OrleansLm.Silo.Serving;
using RunState = OrleansLm.Silo.Grains.RunState;
using ProtoRunState = OrleansLm.Protos.V1.RunState;

namespace OrleansLm.Silo.Gateway;

/// <summary>
/// olm.v1.TrainingService: training control over the cluster's <see cref="ITrainingRunGrain"/>s. Runs are listed from
/// the cluster's run store, so an unknown run is NOT_FOUND without activating a coordinator for it.
/// </summary>
public sealed partial class TrainingService(IGrainFactory grains, RunStorage storage, IOptions<GatewayOptions> options)
{
    /// <summary>How often WatchRun asks the coordinator for news.</summary>
    public static readonly TimeSpan WatchInterval = TimeSpan.FromMilliseconds(250);

    private const int MaxParallelism = 1024;

    public void Register(GrpcMethods methods)
    {
        var service = TrainingReflection.Descriptor.FindTypeByName<ServiceDescriptor>("TrainingService");
        methods
            .Unary<StartRunRequest, Run>(service, "StartRun", GatewayAccess.Admin, (request, _) => StartAsync(request))
            .Unary<GetRunRequest, Run>(service, "GetRun", GatewayAccess.Admin, (request, _) => GetAsync(request.RunId))
            .Unary<ListRunsRequest, ListRunsResponse>(service, "ListRuns", GatewayAccess.Admin, (_, call) => ListAsync(call.CancellationToken))
            .Unary<PauseRunRequest, Run>(service, "PauseRun", GatewayAccess.Admin, (request, _) => ControlAsync(request.RunId, run => run.Pause()))
            .Unary<ResumeRunRequest, Run>(service, "ResumeRun", GatewayAccess.Admin, (request, _) => ControlAsync(request.RunId, run => run.Resume()))
            .Unary<StopRunRequest, Run>(service, "StopRun", GatewayAccess.Admin, (request, _) => ControlAsync(request.RunId, run => run.Stop()))
            .Unary<ExportModelRequest, ExportModelResponse>(service, "ExportModel", GatewayAccess.Admin, (request, _) => ExportAsync(request))
            .ServerStreaming<WatchRunRequest, RunEvent>(service, "WatchRun", GatewayAccess.Admin, WatchAsync);
    }

    /// <summary>Checks a run id or model name: it becomes a directory or file name, so no separators and no dots alone.</summary>
    public static string CheckName(string name, string field)
    {
        if (!NamePattern().IsMatch(name) || name is "." or "..")
            throw new ArgumentException($"'{name}' must be 1-64 characters of A-Z, a-z, 0-9, '.', '_' and '-'", field);
        return name;
    }

    private async Task<Run> StartAsync(StartRunRequest request)
    {
        var runId = request.RunId.Length == 0 ? $"run-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Guid.NewGuid().ToString("N")[..6]}" : CheckName(request.RunId, "run_id");
        if (request.Config.Length == 0) throw new ArgumentException("a run.yaml is required", "config");
        RunConfig config;
        try
        {
            config = ConfigFile.Parse<RunConfig>(request.Config, "config");
        }
        catch (ConfigException e)
        {
            throw new RpcException(StatusCode.InvalidArgument, e.Message, e);
        }
        var workers = Parallelism(request.Workers, "workers");
        var parameterServers = Parallelism(request.ParameterServers, "parameter_servers");
        if (await storage.Store.LoadAsync(runId, CancellationToken.None) is { } existing)
            throw new RpcException(StatusCode.AlreadyExists, $"run_id: run {runId} already exists ({existing.State}); resume it or choose another id");
        var spec = new RunSpec(ConfigFile.ToJson(config), workers, parameterServers, Path.Combine(storage.CheckpointRoot, runId));
        return ToRun(await grains.GetGrain<ITrainingRunGrain>(runId).Start(spec), spec);
    }

    /// <summary>GetRun: the gRPC method's and the live page's (<see cref="LivePage"/>).</summary>
    public async Task<Run> GetAsync(string runId)
    {
        var record = await RecordAsync(runId);
        return ToRun(await grains.GetGrain<ITrainingRunGrain>(runId).Status(), record.Spec);
    }

    /// <summary>The coordinator's status of a run of the cluster's store, with every step's loss; NOT_FOUND for another.</summary>
    public async Task<RunStatus> StatusAsync(string runId)
    {
        await RecordAsync(runId);
        return await grains.GetGrain<ITrainingRunGrain>(runId).Status();
    }

    /// <summary>ListRuns: the gRPC method's and the live page's.</summary>
    public async Task<ListRunsResponse> ListAsync(CancellationToken cancellation)
    {
        var response = new ListRunsResponse();
        foreach (var record in await storage.Store.AllAsync(cancellation))
            response.Runs.Add(Stored(record));
        return response;
    }

    /// <summary>
    /// ListRuns, each run with its latest numbers (loss, validation loss, tokens/s) from its coordinator where that holds
    /// the run's steps, else as stored: the live page's runs table. The store is read once.
    /// </summary>
    public async Task<ListRunsResponse> ListWithStatusAsync(CancellationToken cancellation)
    {
        var runs = await Task.WhenAll((await storage.Store.AllAsync(cancellation)).Select(async record =>
        {
            var stored = Stored(record);
            var live = ToRun(await grains.GetGrain<ITrainingRunGrain>(record.RunId).Status(), record.Spec);
            return live.Step >= stored.Step ? live : stored;
        }));
        return new ListRunsResponse { Runs = { runs } };
    }

    /// <summary>A run as the cluster's store has it, without asking its coordinator.</summary>
    private static Run Stored(RunRecord record)
    {
        var (family, steps) = Outline(record.Spec);
        return new Run
        {
            RunId = record.RunId, State = ToProto(record.State), Step = record.Step, TotalSteps = steps,
            CheckpointStep = record.CheckpointStep, Error = record.Error ?? "",
            RequestedWorkers = record.Spec.Workers, ParameterServers = record.Spec.ParameterServers, ModelFamily = family,
            ValidationLoss = double.NaN, ValidationPerplexity = double.NaN, Loss = double.NaN, EtaSeconds = -1,
        };
    }

    private async Task<Run> ControlAsync(string runId, Func<ITrainingRunGrain, Task<RunStatus>> control)
    {
        var record = await RecordAsync(runId);
        return ToRun(await control(grains.GetGrain<ITrainingRunGrain>(runId)), record.Spec);
    }

    private async Task<ExportModelResponse> ExportAsync(ExportModelRequest request)
    {
        await RecordAsync(request.RunId);
        var name = request.ModelName.Length == 0 ? request.RunId : CheckName(request.ModelName, "model_name");
        var directory = Path.GetFullPath(options.Value.ModelDirectory);
        Directory.CreateDirectory(directory);
        var run = grains.GetGrain<ITrainingRunGrain>(request.RunId);
        var path = await run.Export(Path.Combine(directory, name + ServedModels.ExportExtension));
        return new ExportModelResponse { Model = name, Step = (await run.Status()).Step, SizeBytes = new FileInfo(path).Length };
    }

    private async Task WatchAsync(WatchRunRequest request, IServerStreamWriter<RunEvent> events, GrpcCallContext call)
    {
        var record = await RecordAsync(request.RunId);
        if (request.FromStep < -1) throw new ArgumentException("must be ≥ -1 (-1 replays nothing)", "from_step");
        var run = grains.GetGrain<ITrainingRunGrain>(request.RunId);
        var status = await run.Status();
        await events.WriteAsync(new RunEvent { Status = ToRun(status, record.Spec) });
        var sentSteps = request.FromStep < 0 ? status.Losses.Count : (int)Math.Min(request.FromStep, status.Losses.Count);
        var sentEvaluations = status.Evaluations.Count(e => request.FromStep < 0 || e.Step <= request.FromStep);
        var sentState = status.State;
        while (true)
        {
            // Each evaluation follows the step it was taken after, as the run took them.
            for (; sentSteps < status.Losses.Count; sentSteps++)
            {
                await events.WriteAsync(new RunEvent
                {
                    Step = new StepEvent { Step = sentSteps + 1, TotalSteps = status.TotalSteps, Loss = status.Losses[sentSteps], TokensPerSecond = status.TokensPerSecond },
                });
                sentEvaluations = await SendEvaluationsAsync(status, sentEvaluations, sentSteps + 1, events);
            }
            sentEvaluations = await SendEvaluationsAsync(status, sentEvaluations, long.MaxValue, events);
            if (status.State != sentState)
            {
                await events.WriteAsync(new RunEvent { Status = ToRun(status, record.Spec) });
                sentState = status.State;
            }
            if (status.State is not (RunState.Running or RunState.Paused)) return;
            await Task.Delay(WatchInterval, call.CancellationToken);
            status = await run.Status().WaitAsync(call.CancellationToken);
        }
    }

    private async Task<RunRecord> RecordAsync(string runId)
    {
        if (runId.Length == 0) throw new ArgumentException("a run id is required", "run_id");
        return await storage.Store.LoadAsync(runId, CancellationToken.None)
            ?? throw new RpcException(StatusCode.NotFound, $"run_id: no run {runId} in cluster storage");
    }

    /// <summary>Sends the evaluations after <paramref name="sent"/> taken up to <paramref name="step"/>; returns how many are sent now.</summary>
    private static async Task<int> SendEvaluationsAsync(RunStatus status, int sent, long step, IServerStreamWriter<RunEvent> events)
    {
        for (; sent < status.Evaluations.Count && status.Evaluations[sent].Step <= step; sent++)
            await events.WriteAsync(new RunEvent { Evaluation = ToEvaluationEvent(status.Evaluations[sent]) });
        return sent;
    }

    private static EvaluationEvent ToEvaluationEvent(Evaluation evaluation) =>
        new() { Step = evaluation.Step, ValidationLoss = evaluation.Loss, ValidationPerplexity = Math.Exp(evaluation.Loss) };

    private static int Parallelism(int value, string field) =>
        value is >= 0 and <= MaxParallelism ? Math.Max(value, 1) : throw new ArgumentException($"must lie in [0, {MaxParallelism}] (0 for 1), not {value}", field);

    private static Run ToRun(RunStatus status, RunSpec spec) => new()
    {
        RunId = status.RunId,
        State = ToProto(status.State),
        Step = status.Step,
        TotalSteps = status.TotalSteps,
        Loss = status.Loss,
        ValidationLoss = status.ValidationLoss,
        ValidationPerplexity = Math.Exp(status.ValidationLoss),
        TokensPerSecond = status.TokensPerSecond,
        Workers = status.Workers,
        RequestedWorkers = spec.Workers,
        ParameterServers = spec.ParameterServers,
        EtaSeconds = status.Eta?.TotalSeconds ?? -1,
        CheckpointStep = status.CheckpointStep,
        Error = status.Error ?? "",
        ModelFamily = RunSpecs.Family(spec),
        Parameters = status.Shape?.Parameters ?? 0,
        FlopsPerToken = status.Shape?.FlopsPerToken ?? 0,
        Tokens = status.Tokens,
        Evaluations = { status.Evaluations.Select(ToEvaluationEvent) },
    };

    internal static ProtoRunState ToProto(RunState state) => state switch
    {
        RunState.Running => ProtoRunState.Running,
        RunState.Paused => ProtoRunState.Paused,
        RunState.Stopped => ProtoRunState.Stopped,
        RunState.Completed => ProtoRunState.Completed,
        RunState.Failed => ProtoRunState.Failed,
        _ => ProtoRunState.Unspecified,
    };

    /// <summary>
    /// What a listing shows of a run's config, model.family and training.steps, read from the spec's JSON: binding it as a
    /// RunConfig validates it, which builds a probe model under the process-wide model-building lock, once per run listed.
    /// </summary>
    private static (string Family, long Steps) Outline(RunSpec spec)
    {
        var config = JsonNode.Parse(spec.ConfigJson);
        return (RunSpecs.Family(config), config?["training"]?["steps"]?.GetValue<long>() ?? new TrainingSection().Steps);
    }

    [GeneratedRegex("^[A-Za-z0-9._-]{1,64}$")]
    private static partial Regex NamePattern();
}
