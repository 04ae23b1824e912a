using System.Collections.Concurrent;
using OrleansLm.Model.Decoding;
using OrleansLm.Model.Models;
using OrleansLm.Model.Text;
using OrleansLm.Model.Training;
using OrleansLm.Runtime.Grains;

namespace OrleansLm.Silo.Grains;

/// <summary>
/// Loads its key's model on activation (<see cref="TrainingRun.LoadForInference"/>; for a run, the file the run's
/// <see cref="ITrainingRunGrain.Export"/> writes) and decodes and scores with it through <see cref="TextDecoding"/>, as
/// <c>olm sample</c> and <c>olm score</c> do. Each call runs within one turn, one call at a time per activation.
/// </summary>
[StatelessWorker]
public sealed class SamplerGrain(SamplerRefreshes refreshes) : Grain, ISamplerGrain
{
    private ILanguageModel? model;
    private ITokenizer? tokenizer;
    private long loadedRefresh;

    public override Task OnActivateAsync(CancellationToken cancellationToken) => LoadAsync(refreshes.Count(GetPrimaryKeyString()));

    public async Task<TextCompletion> Sample(SampleRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (current, currentTokenizer) = await CurrentAsync();
        var completions = request.Decoding switch
        {
            DecodingMethod.Greedy => TextDecoding.Sample(current, currentTokenizer, request.Prompt,
                new SamplingOptions { MaxNewTokens = request.MaxNewTokens, Temperature = 0 }),
            DecodingMethod.Sampling => TextDecoding.Sample(current, currentTokenizer, request.Prompt, new SamplingOptions
            {
                MaxNewTokens = request.MaxNewTokens, Temperature = SamplingTemperature(request.Temperature), TopK = request.TopK,
                TopP = request.TopP, Seed = request.Seed,
            }),
            DecodingMethod.BeamSearch => TextDecoding.Search(current, currentTokenizer, request.Prompt,
                new BeamSearchOptions { BeamWidth = request.BeamWidth, MaxNewTokens = request.MaxNewTokens }),
            _ => throw new ArgumentOutOfRangeException(nameof(request.Decoding), request.Decoding, "Decoding must be Greedy, Sampling or BeamSearch"),
        };
        return completions[0];
    }

    public async Task<TextScore> Score(string text)
    {
        var (current, currentTokenizer) = await CurrentAsync();
        var (_, score) = TextDecoding.Score(current, currentTokenizer, text);
        return new TextScore(score.Surprisal.Count, score.AverageSurprisal, score.AverageSurprisalBits, score.Perplexity);
    }

    public Task Refresh() => LoadAsync(refreshes.Add(GetPrimaryKeyString()));

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        model?.Dispose();
        (model, tokenizer) = (null, null);
        return Task.CompletedTask;
    }

    /// <summary>The model, reloaded first when another activation of this key took a refresh since this one loaded.</summary>
    private async Task<(ILanguageModel Model, ITokenizer Tokenizer)> CurrentAsync()
    {
        var latest = refreshes.Count(GetPrimaryKeyString());
        if (latest != loadedRefresh) await LoadAsync(latest);
        return (model!, tokenizer!);
    }

    /// <summary>Loads the key's model as of refresh <paramref name="refresh"/>; the model it replaces is disposed once the new one is loaded.</summary>
    private async Task LoadAsync(long refresh)
    {
        var path = await CheckpointAsync(GetPrimaryKeyString());
        var (loaded, loadedTokenizer, _) = TrainingRun.LoadForInference(path);
        model?.Dispose();
        (model, tokenizer, loadedRefresh) = (loaded, loadedTokenizer, refresh);
    }

    /// <summary>The file that <paramref name="key"/> names, or that its run exports now.</summary>
    private async Task<string> CheckpointAsync(string key)
    {
        if (key.StartsWith(SamplerKey.RunPrefix, StringComparison.Ordinal))
        {
            var runId = key[SamplerKey.RunPrefix.Length..];
            if (string.IsNullOrWhiteSpace(runId))
                throw new ArgumentException($"sampler key '{key}' names no run after '{SamplerKey.RunPrefix}'", nameof(key));
            return await GrainFactory.GetGrain<ITrainingRunGrain>(runId).Export(null);
        }
        return File.Exists(key)
            ? key
            : throw new ArgumentException($"sampler key: checkpoint {Path.GetFullPath(key)} does not exist", nameof(key));
    }

    private static double SamplingTemperature(double temperature) =>
        temperature > 0 ? temperature
            : throw new ArgumentOutOfRangeException(nameof(SampleRequest.Temperature), temperature,
                "Temperature must be > 0 for sampling (DecodingMethod.Greedy takes the most likely token)");
}

/// <summary>
/// How many times each sampler key was refreshed on this silo. A sampler activation that loaded before the latest
/// refresh reloads before its next call, so a refresh reaches every activation of the silo's pool, not only the one
/// that took the call.
/// </summary>
public sealed class SamplerRefreshes
{
    private readonly ConcurrentDictionary<string, long> counts = new(StringComparer.Ordinal);

    public long Count(string key) => counts.GetValueOrDefault(key);

    /// <summary>Counts a refresh of <paramref name="key"/>; returns the new count.</summary>
    public long Add(string key) => counts.AddOrUpdate(key, 1, (_, count) => count + 1);
}
