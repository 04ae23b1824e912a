using System.Diagnostics;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>Settings of the smoke run; the defaults train in a few seconds on two cores.</summary>
public sealed record SmokeConfig(
    int Steps = 2000,
    int BatchSize = 64,
    int Context = 4,
    int EmbeddingSize = 16,
    int HiddenSize = 128,
    double LearningRate = 0.3,
    ulong Seed = 1337,
    int ReportEvery = 100);

public sealed record SmokeProgress(int Step, int TotalSteps, double Loss, double TokensPerSecond);

/// <summary>
/// The foundation's end-to-end check: a character-level fixed-window MLP (Bengio et al. 2003),
/// written with raw tensors and plain SGD, trained in-process on a text. It proves the binding,
/// autograd and dispose scopes work together; the model library's trainer supersedes it.
/// </summary>
public sealed class SmokeTrainer : IDisposable
{
    private readonly SmokeConfig config;
    private readonly char[] vocabulary;
    private readonly Dictionary<char, long> index;
    private readonly Tensor tokens;  // [L] Int64
    private readonly Tensor[] parameters;
    private readonly Tensor embedding, hiddenWeight, hiddenBias, outputWeight, outputBias;

    public SmokeTrainer(string text, SmokeConfig config)
    {
        if (text.Length <= config.Context + 1)
            throw new ArgumentException($"the corpus has {text.Length} characters; it needs more than Context + 1 = {config.Context + 1}", nameof(text));
        this.config = config;
        vocabulary = [.. text.Distinct().Order()];
        index = vocabulary.Select((c, i) => (c, (long)i)).ToDictionary(p => p.c, p => p.Item2);
        tokens = Tensor.FromArray<long>(text.Select(c => index[c]).ToArray(), [text.Length]).DetachFromDisposeScope();

        LibTorch.ManualSeed(config.Seed);
        long v = vocabulary.Length, d = config.EmbeddingSize, n = config.Context, h = config.HiddenSize;
        embedding = Parameter([v, d], 1.0);
        hiddenWeight = Parameter([n * d, h], 1.0 / Math.Sqrt(n * d));
        hiddenBias = Parameter([h], 0.0);
        outputWeight = Parameter([h, v], 0.1 / Math.Sqrt(h));
        outputBias = Parameter([v], 0.0);
        parameters = [embedding, hiddenWeight, hiddenBias, outputWeight, outputBias];
    }

    public int VocabularySize => vocabulary.Length;

    public long ParameterCount => parameters.Sum(p => p.NumElements);

    /// <summary>Runs the configured SGD steps; returns the losses at each report.</summary>
    public IReadOnlyList<SmokeProgress> Train(IProgress<SmokeProgress>? progress = null, CancellationToken cancellation = default)
    {
        var reports = new List<SmokeProgress>();
        var clock = Stopwatch.StartNew();
        double lossSum = 0;
        var lossCount = 0;
        for (var step = 1; step <= config.Steps; step++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = DisposeScope.Enter();
            var (context, target) = SampleBatch();
            var loss = Functional.CrossEntropy(Logits(context), target);
            loss.Backward();
            using (LibTorch.NoGrad())
            {
                foreach (var p in parameters)
                {
                    p.SubInPlace(p.Grad!, config.LearningRate);
                    p.ZeroGrad();
                }
            }
            lossSum += loss.ToDouble();
            lossCount++;
            if (step % config.ReportEvery == 0 || step == config.Steps)
            {
                var report = new SmokeProgress(step, config.Steps, lossSum / lossCount,
                    (double)step * config.BatchSize / clock.Elapsed.TotalSeconds);
                reports.Add(report);
                progress?.Report(report);
                lossSum = 0;
                lossCount = 0;
            }
        }
        return reports;
    }

    /// <summary>Continues <paramref name="prompt"/> by sampling <paramref name="length"/> characters at the given temperature.</summary>
    public string Sample(string prompt, int length, double temperature = 0.8)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(temperature);
        var text = new System.Text.StringBuilder(prompt);
        var window = new long[config.Context];
        using var noGrad = LibTorch.NoGrad();
        for (var i = 0; i < length; i++)
        {
            using var scope = DisposeScope.Enter();
            for (var k = 0; k < config.Context; k++)
            {
                var at = text.Length - config.Context + k;
                window[k] = at >= 0 && index.TryGetValue(text[at], out var id) ? id : 0;
            }
            var logits = Logits(Tensor.FromArray<long>(window, [1, config.Context]));  // [1, V]
            var next = (logits / temperature).Softmax(-1).Multinomial(1).ToInt64();
            text.Append(vocabulary[next]);
        }
        return text.ToString();
    }

    public void Dispose()
    {
        tokens.Dispose();
        foreach (var p in parameters) p.Dispose();
    }

    // logits = tanh(concat(E[c_1..c_n]) W_h + b_h) W_o + b_o
    private Tensor Logits(Tensor context)
    {
        var x = Functional.Embedding(embedding, context);                         // [B, n, d]
        x = x.View(-1, config.Context * config.EmbeddingSize);                    // [B, n·d]
        var hidden = Tensor.Addmm(hiddenBias, x, hiddenWeight).Tanh();            // [B, h]
        return Tensor.Addmm(outputBias, hidden, outputWeight);                    // [B, V]
    }

    // Random windows: context = tokens[p−n .. p−1], target = tokens[p].
    private (Tensor Context, Tensor Target) SampleBatch()
    {
        var n = config.Context;
        var positions = Tensor.Randint(n, tokens.NumElements, [config.BatchSize]);              // [B]
        var offsets = Tensor.Arange(-n, 0);                                                      // [n]
        var contextIndex = positions.Unsqueeze(1) + offsets;                                     // [B, n]
        var context = tokens.IndexSelect(0, contextIndex.Flatten()).View(config.BatchSize, n);  // [B, n]
        return (context, tokens.IndexSelect(0, positions));
    }

    private static Tensor Parameter(ReadOnlySpan<long> shape, double std)
    {
        var p = Tensor.Zeros(shape).DetachFromDisposeScope();
        if (std > 0) p.NormalInPlace(0, std);
        p.RequiresGrad = true;
        return p;
    }
}
