using OrleansLm.Model.Decoding;
using OrleansLm.Runtime.Grains;
using OrleansLm.Silo.Serving;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// Decodes and scores with its key's model as <c>olm sample</c> and <c>olm score</c> do. The model is the silo's
/// <see cref="ServedModels"/> entry for the key, shared with the gateway and the key's other activations, so their
/// concurrent generations are decoded in batches.
/// </summary>
[StatelessWorker]
public sealed class SamplerGrain(ServedModels models) : Grain, ISamplerGrain
{
    public async Task<TextCompletion> Sample(SampleRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        await using var lease = await models.AcquireAsync(GetPrimaryKeyString(), GrainFactory);
        var served = lease.Model;
        var prompt = served.Encode(request.Prompt, "prompt");
        if (request.Decoding == DecodingMethod.BeamSearch)
        {
            var best = (await served.SearchAsync(prompt, new BeamSearchOptions { BeamWidth = request.BeamWidth, MaxNewTokens = request.MaxNewTokens }))[0];
            return Completion(served, best.Tokens, best.LogProbs, "beam");
        }
        var options = request.Decoding switch
        {
            DecodingMethod.Greedy => new SamplingOptions { MaxNewTokens = request.MaxNewTokens, Temperature = 0 },
            DecodingMethod.Sampling => new SamplingOptions
            {
                MaxNewTokens = request.MaxNewTokens, Temperature = SamplingTemperature(request.Temperature), TopK = request.TopK,
                TopP = request.TopP, Seed = request.Seed,
            },
            _ => throw new ArgumentOutOfRangeException(nameof(request.Decoding), request.Decoding, "Decoding must be Greedy, Sampling or BeamSearch"),
        };
        var generation = (await served.GenerateAsync(prompt, options))[0];
        return Completion(served, generation.Tokens, generation.LogProbs, generation.FinishReason.ToString().ToLowerInvariant());
    }

    public async Task<TextScore> Score(string text)
    {
        await using var lease = await models.AcquireAsync(GetPrimaryKeyString(), GrainFactory);
        var (_, score) = await lease.Model.ScoreAsync(text, nameof(text));
        return new TextScore(score.Surprisal.Count, score.AverageSurprisal, score.AverageSurprisalBits, score.Perplexity);
    }

    public async Task Refresh()
    {
        models.Invalidate(GetPrimaryKeyString());
        // Loads now, so that a file that no longer loads is reported to the caller that asked for it.
        await using var lease = await models.AcquireAsync(GetPrimaryKeyString(), GrainFactory);
    }

    private static TextCompletion Completion(ServedModel served, IReadOnlyList<int> tokens, IReadOnlyList<double> logProbs, string finishReason) =>
        new(served.Tokenizer.Decode(tokens), tokens, logProbs, finishReason);

    private static double SamplingTemperature(double temperature) =>
        temperature > 0 ? temperature
            : throw new ArgumentOutOfRangeException(nameof(SampleRequest.Temperature), temperature,
                "Temperature must be > 0 for sampling (DecodingMethod.Greedy takes the most likely token)");
}
