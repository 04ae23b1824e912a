using System.Diagnostics;
using OrleansLm.Bench;
using OrleansLm.Model.Decoding;
using OrleansLm.Model.Models;

namespace OrleansLm.GatewayBench;

/// <summary>
/// Greedy decoding through <see cref="Generator"/> with the model's KV cache and without it (<see cref="NoCacheDecoding"/>):
/// first checks that both choose the same tokens, then times them in alternating order.
/// </summary>
internal static class CacheComparison
{
    /// <param name="Cached">Seconds of each timed generation with the cache.</param>
    /// <param name="Uncached">The same without it.</param>
    /// <param name="MaxLogProbDifference">The largest difference between the two decodings' ln p of a chosen token.</param>
    public sealed record Result(IReadOnlyList<double> Cached, IReadOnlyList<double> Uncached, double MaxLogProbDifference);

    /// <exception cref="InvalidOperationException">The two decodings chose different tokens.</exception>
    public static Result Measure(ILanguageModel model, IReadOnlyList<int> prompt, int newTokens, int repetitions)
    {
        var greedy = new SamplingOptions { MaxNewTokens = newTokens, Temperature = 0 };
        using var uncached = new NoCacheDecoding(model);
        var withCache = Generator.Generate(model, prompt, greedy)[0];
        var without = Generator.Generate(uncached, prompt, greedy)[0];
        if (!withCache.Tokens.SequenceEqual(without.Tokens))
        {
            var first = withCache.Tokens.Zip(without.Tokens).TakeWhile(pair => pair.First == pair.Second).Count();
            throw new InvalidOperationException(
                $"greedy decoding with the KV cache and without it differ from generated token {first} on: " +
                $"[{string.Join(", ", withCache.Tokens)}] vs [{string.Join(", ", without.Tokens)}]");
        }
        var difference = withCache.LogProbs.Zip(without.LogProbs).Max(pair => Math.Abs(pair.First - pair.Second));

        var cached = new List<double>();
        var plain = new List<double>();
        for (var repetition = 0; repetition < repetitions; repetition++)
        {
            // Alternating which goes first evens out the machine's drift between the two.
            if (repetition % 2 == 0)
            {
                cached.Add(Time(model));
                plain.Add(Time(uncached));
            }
            else
            {
                plain.Add(Time(uncached));
                cached.Add(Time(model));
            }
        }
        return new Result(cached, plain, difference);

        double Time(ILanguageModel decoded)
        {
            var start = Stopwatch.GetTimestamp();
            Generator.Generate(decoded, prompt, greedy);
            return Stopwatch.GetElapsedTime(start).TotalSeconds;
        }
    }

    public static double TokensPerSecond(IReadOnlyList<double> seconds, int newTokens) => newTokens / Samples.Median(seconds);
}
