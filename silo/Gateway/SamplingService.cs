using System.Threading.Channels;
using Google.Protobuf.Reflection;
using ServiceDescriptor = Google.Protobuf.Reflection.ServiceDescriptor;
using Microsoft.Extensions.Options;
using OrleansLm.Model.Decoding;
using OrleansLm.Protos.Grpc;
using OrleansLm.Protos.V1;
using OrleansLm.Runtime.Grains;
using OrleansLm.Silo.Gateway.Grpc;
using OrleansLm.Silo.Grains;
using OrleansLm.Silo.Metrics;
using OrleansLm.Silo.Runs;
using OrleansLm.Silo.Serving;
using TokenLogProb = OrleansLm.Model.Decoding.TokenLogProb;
using FinishReason = OrleansLm.Protos.V1.FinishReason;

namespace OrleansLm.Silo.Gateway;

/// <summary>
/// olm.v1.SamplingService: generation and scoring with the silo's <see cref="ServedModels"/>. A model is
/// <c>run:&lt;id&gt;</c> (a run of the cluster's store, at its latest parameters) or the name of a file in
/// <see cref="GatewayOptions.ModelDirectory"/>; no other path can be named.
/// </summary>
public sealed class SamplingService(IGrainFactory grains, RunStorage storage, ServedModels models, IOptions<GatewayOptions> options)
{
    /// <summary>Extensions of the model files served by name: exports and n-gram models.</summary>
    private static readonly string[] ModelExtensions = [ServedModels.ExportExtension, ".ngram"];

    public void Register(GrpcMethods methods)
    {
        var service = SamplingReflection.Descriptor.FindTypeByName<ServiceDescriptor>("SamplingService");
        methods
            .Unary<GenerateRequest, GenerateResponse>(service, "Generate", GatewayAccess.Sampling, (request, call) => GenerateAsync(request, call.CancellationToken))
            .ServerStreaming<GenerateRequest, GenerateChunk>(service, "GenerateStream", GatewayAccess.Sampling, GenerateStreamAsync)
            .Unary<ScoreRequest, ScoreResponse>(service, "Score", GatewayAccess.Sampling, ScoreAsync)
            .Unary<ListModelsRequest, ListModelsResponse>(service, "ListModels", GatewayAccess.Sampling, (_, call) => ListAsync(call.CancellationToken));
    }

    /// <summary>Generate: the gRPC method's and the live page's (<see cref="LivePage"/>).</summary>
    public async Task<GenerateResponse> GenerateAsync(GenerateRequest request, CancellationToken cancellation)
    {
        var plan = GenerationPlan.Of(request, options.Value);
        await using var lease = await AcquireAsync(request.Model, cancellation);
        var served = lease.Model;
        var prompt = served.Encode(request.Prompt, "prompt");
        var response = new GenerateResponse { Model = request.Model, PromptTokens = prompt.Length };
        var outputs = await DecodeAsync(served, prompt, plan, onToken: null, cancellation);
        for (var index = 0; index < outputs.Count; index++)
        {
            var (tokens, logProbs, finish) = outputs[index];
            var alternatives = request.TopLogprobs > 0 && tokens.Count > 0
                ? await served.AlternativesAsync([.. prompt, .. tokens], prompt.Length, request.TopLogprobs, cancellation)
                : null;
            var completion = new Completion { Index = index, Text = served.Tokenizer.Decode(tokens), FinishReason = finish, Logprob = logProbs.Sum() };
            for (var i = 0; i < tokens.Count; i++) completion.Tokens.Add(Token(served, tokens[i], logProbs[i], alternatives?[i]));
            response.Completions.Add(completion);
        }
        return response;
    }

    private async Task GenerateStreamAsync(GenerateRequest request, IServerStreamWriter<GenerateChunk> chunks, GrpcCallContext call)
    {
        var plan = GenerationPlan.Of(request, options.Value);
        if (request.TopLogprobs > 0)
            throw new ArgumentException("GenerateStream reports no alternatives; ask Generate for them", "top_logprobs");
        await using var lease = await AcquireAsync(request.Model, call.CancellationToken);
        var served = lease.Model;
        var prompt = served.Encode(request.Prompt, "prompt");
        // Tokens arrive on the batcher's thread; the stream is written from this one, one message at a time.
        var pending = Channel.CreateUnbounded<GenerateChunk>(new UnboundedChannelOptions { SingleReader = true });
        var decoding = DecodeAsync(served, prompt, plan,
            token => pending.Writer.TryWrite(new GenerateChunk { Index = token.Sample, Token = Token(served, token.Token, token.LogProb, null) }),
            call.CancellationToken);
        _ = decoding.ContinueWith(_ => pending.Writer.TryComplete(), TaskScheduler.Default);
        var streamed = 0;
        async Task SendTokenAsync(GenerateChunk chunk)
        {
            if (streamed++ == 0) GatewayMeters.FirstToken(request.Model, call.Started);
            await chunks.WriteAsync(chunk);
        }
        try
        {
            await foreach (var chunk in pending.Reader.ReadAllAsync(call.CancellationToken)) await SendTokenAsync(chunk);
            var outputs = await decoding;
            for (var index = 0; index < outputs.Count; index++)
            {
                if (plan.Beam is not null)
                    foreach (var (token, logProb) in outputs[index].Tokens.Zip(outputs[index].LogProbs))
                        await SendTokenAsync(new GenerateChunk { Index = index, Token = Token(served, token, logProb, null) });
                await chunks.WriteAsync(new GenerateChunk { Index = index, FinishReason = outputs[index].Finish });
            }
        }
        finally
        {
            GatewayMeters.Streamed(request.Model, streamed);
        }
    }

    private async Task<ScoreResponse> ScoreAsync(ScoreRequest request, GrpcCallContext call)
    {
        CheckAlternatives(request.TopLogprobs);
        await using var lease = await AcquireAsync(request.Model, call.CancellationToken);
        var served = lease.Model;
        var (tokens, score) = await served.ScoreAsync(request.Text, "text", call.CancellationToken);
        var alternatives = request.TopLogprobs > 0 ? await served.AlternativesAsync(tokens, 1, request.TopLogprobs, call.CancellationToken) : null;
        var response = new ScoreResponse
        {
            Model = request.Model, AverageSurprisal = score.AverageSurprisal, AverageSurprisalBits = score.AverageSurprisalBits, Perplexity = score.Perplexity,
        };
        for (var i = 1; i < tokens.Length; i++) response.Tokens.Add(Token(served, tokens[i], -score.Surprisal[i - 1], alternatives?[i - 1]));
        return response;
    }

    /// <summary>ListModels: the gRPC method's and the live page's.</summary>
    public async Task<ListModelsResponse> ListAsync(CancellationToken cancellation)
    {
        var response = new ListModelsResponse();
        foreach (var run in await storage.Store.AllAsync(cancellation))
            response.Models.Add(new ModelInfo
            {
                Model = SamplerKey.ForRun(run.RunId), Source = ModelInfo.Types.Source.Run, RunState = TrainingService.ToProto(run.State), Step = run.Step,
            });
        var directory = new DirectoryInfo(Path.GetFullPath(options.Value.ModelDirectory));
        if (directory.Exists)
            foreach (var file in directory.EnumerateFiles().Where(f => ModelExtensions.Contains(f.Extension)).OrderBy(f => f.Name, StringComparer.Ordinal))
                response.Models.Add(new ModelInfo
                {
                    Model = Path.GetFileNameWithoutExtension(file.Name), Source = ModelInfo.Types.Source.Export, SizeBytes = file.Length,
                    ModifiedUnixSeconds = new DateTimeOffset(file.LastWriteTimeUtc).ToUnixTimeSeconds(),
                });
        return response;
    }

    /// <summary>The served model a request names: a run of the cluster, or a file of the model directory.</summary>
    private async Task<ServedModel.Lease> AcquireAsync(string model, CancellationToken cancellation)
    {
        if (model.Length == 0) throw new ArgumentException("a model is required: run:<run id> or a name from ListModels", "model");
        string key;
        if (model.StartsWith(SamplerKey.RunPrefix, StringComparison.Ordinal))
        {
            var runId = TrainingService.CheckName(model[SamplerKey.RunPrefix.Length..], "model");
            if (await storage.Store.LoadAsync(runId, cancellation) is null)
                throw new RpcException(StatusCode.NotFound, $"model: no run {runId} in cluster storage");
            key = model;
        }
        else
        {
            var directory = Path.GetFullPath(options.Value.ModelDirectory);
            var name = TrainingService.CheckName(model, "model");
            key = ModelExtensions.Select(extension => Path.Combine(directory, name + extension)).FirstOrDefault(File.Exists)
                ?? throw new RpcException(StatusCode.NotFound, $"model: no model {name} (ListModels lists them)");
        }
        return await models.AcquireAsync(key, grains, cancellation);
    }

    /// <summary>Beam search or batched sampling, as the plan says; each output's tokens, their ln p, and why it ended.</summary>
    private static async Task<IReadOnlyList<(IReadOnlyList<int> Tokens, IReadOnlyList<double> LogProbs, FinishReason Finish)>> DecodeAsync(
        ServedModel served, int[] prompt, GenerationPlan plan, Action<StreamedToken>? onToken, CancellationToken cancellation)
    {
        if (plan.Beam is { } beam)
            return [.. (await served.SearchAsync(prompt, beam, cancellation)).Select(h => (h.Tokens, h.LogProbs, FinishReason.Length))];
        var sampling = plan.Sampling! with
        {
            StopSequences = [.. plan.Stop.Select((stop, i) => (IReadOnlyList<int>)served.Encode(stop, $"stop[{i}]"))],
        };
        return [.. (await served.GenerateAsync(prompt, sampling, onToken, cancellation)).Select(g =>
            (g.Tokens, g.LogProbs, g.FinishReason == Model.Decoding.FinishReason.Stop ? FinishReason.Stop : FinishReason.Length))];
    }

    private static Protos.V1.GeneratedToken Token(ServedModel served, int token, double logProb, IReadOnlyList<TokenLogProb>? alternatives)
    {
        var generated = new Protos.V1.GeneratedToken { Id = token, Text = served.TokenText(token), Logprob = logProb };
        if (alternatives is not null)
            generated.TopLogprobs.AddRange(alternatives.Select(a => new Protos.V1.TokenLogProb { Id = a.Token, Text = served.TokenText(a.Token), Logprob = a.LogProb }));
        return generated;
    }

    private static void CheckAlternatives(int count)
    {
        if (count is < 0 or > TokenAlternatives.MaxAlternatives)
            throw new ArgumentException($"must lie in [0, {TokenAlternatives.MaxAlternatives}], not {count}", "top_logprobs");
    }

    /// <summary>A GenerateRequest's parameters, checked against the proto's rules and the gateway's limits, field by field.</summary>
    private sealed record GenerationPlan(SamplingOptions? Sampling, BeamSearchOptions? Beam, IReadOnlyList<string> Stop)
    {
        public static GenerationPlan Of(GenerateRequest request, GatewayOptions limits)
        {
            var maxNewTokens = request.MaxNewTokens switch
            {
                0 => limits.DefaultMaxNewTokens,
                < 0 => throw new ArgumentException($"must be ≥ 0 (0 for the default {limits.DefaultMaxNewTokens}), not {request.MaxNewTokens}", "max_new_tokens"),
                var asked when asked > limits.MaxNewTokens => throw new ArgumentException(
                    $"{asked} exceeds this gateway's limit of {limits.MaxNewTokens} (Gateway:MaxNewTokens)", "max_new_tokens"),
                var asked => asked,
            };
            var n = Count(request.N, "n", limits.MaxSamples);
            CheckAlternatives(request.TopLogprobs);
            if (!double.IsFinite(request.Temperature) || request.Temperature < 0)
                throw new ArgumentException($"must be a finite number ≥ 0 (0 = greedy), not {request.Temperature}", "temperature");
            if (request.TopK < 0) throw new ArgumentException($"must be ≥ 0 (0 keeps all), not {request.TopK}", "top_k");
            if (!double.IsFinite(request.TopP) || request.TopP is < 0 or > 1)
                throw new ArgumentException($"must lie in (0, 1] (0 means 1), not {request.TopP}", "top_p");
            if (!double.IsFinite(request.RepetitionPenalty) || request.RepetitionPenalty < 0)
                throw new ArgumentException($"must be a finite number > 0 (0 means 1, off), not {request.RepetitionPenalty}", "repetition_penalty");
            if (!double.IsFinite(request.LengthPenalty)) throw new ArgumentException($"must be a finite number, not {request.LengthPenalty}", "length_penalty");
            for (var i = 0; i < request.Stop.Count; i++)
                if (request.Stop[i].Length == 0) throw new ArgumentException("must not be empty", $"stop[{i}]");
            if (request.BeamWidth < 0) throw new ArgumentException($"must be ≥ 0 (0 or 1 samples instead), not {request.BeamWidth}", "beam_width");

            if (request.BeamWidth > 1)
            {
                var width = Count(request.BeamWidth, "beam_width", limits.MaxSamples);
                if (n > width) throw new ArgumentException($"asks for {n} hypotheses of a beam of {width}", "n");
                if (request.Stop.Count > 0) throw new ArgumentException("beam search takes no stop sequences", "stop");
                if (request.RepetitionPenalty is not (0 or 1)) throw new ArgumentException("beam search takes no repetition penalty", "repetition_penalty");
                return new GenerationPlan(null, new BeamSearchOptions
                {
                    BeamWidth = width, MaxNewTokens = maxNewTokens, LengthPenalty = request.LengthPenalty, NumReturn = n,
                }, []);
            }
            return new GenerationPlan(new SamplingOptions
            {
                MaxNewTokens = maxNewTokens,
                Temperature = request.Temperature,
                TopK = request.TopK,
                TopP = request.TopP == 0 ? 1 : request.TopP,
                RepetitionPenalty = request.RepetitionPenalty == 0 ? 1 : request.RepetitionPenalty,
                Seed = request.HasSeed ? request.Seed : null,
                NumSamples = n,
            }, null, [.. request.Stop]);
        }

        private static int Count(int value, string field, int limit) => value switch
        {
            0 => 1,
            < 0 => throw new ArgumentException($"must be ≥ 0 (0 for 1), not {value}", field),
            > 0 when value > limit => throw new ArgumentException($"{value} exceeds this gateway's limit of {limit} (Gateway:MaxSamples)", field),
            _ => value,
        };
    }
}
