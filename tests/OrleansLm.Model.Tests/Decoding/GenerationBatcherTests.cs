using OrleansLm.Model.Decoding;
using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests.Decoding;

[Collection(NativeStateCollection.Name)]
public class GenerationBatcherTests
{
    /// <summary>Long enough that a batch which is not full never starts in a test: batches start because they fill up.</summary>
    private static readonly TimeSpan Forever = TimeSpan.FromSeconds(30);

    private static readonly TransformerConfig Small = new(VocabularySize: 19, BlockSize: 32, Layers: 2, Heads: 2, ModelDimension: 16);

    [Fact]
    public async Task ConcurrentRequestsRunInOneBatchAndGetWhatEachGetsAlone()
    {
        using var model = Transformer();
        var random = new Random(4);
        int[] Prompt() => [.. Enumerable.Range(0, 5).Select(_ => random.Next(Small.VocabularySize))];
        var shared = Prompt();
        (int[] Prompt, SamplingOptions Options)[] requests =
        [
            (shared, new() { Temperature = 0, MaxNewTokens = 12 }),
            (Prompt(), new() { Seed = 1, MaxNewTokens = 10, NumSamples = 3 }),
            (Prompt(), new() { Seed = 2, Temperature = 0.7, TopK = 5, MaxNewTokens = 14 }),
            (Prompt(), new() { Seed = 3, TopP = 0.8, MaxNewTokens = 9, NumSamples = 2 }),
            (Prompt(), new() { Temperature = 0, RepetitionPenalty = 1.5, MaxNewTokens = 16 }),
            (Prompt(), new() { Seed = 5, Temperature = 1.3, RepetitionPenalty = 1.2, MaxNewTokens = 11, StopSequences = [[4], [7, 7]] }),
            (shared, new() { Seed = 6, MaxNewTokens = 8, NumSamples = 4 }),
            (Prompt(), new() { Seed = 7, TopK = 3, TopP = 0.9, MaxNewTokens = 13, StopSequences = [[2, 9], [11]] }),
        ];
        var expected = requests.Select(r => Generator.Generate(model, r.Prompt, r.Options)).ToArray();
        var rows = requests.Sum(r => r.Options.NumSamples);

        await using (var batcher = new GenerationBatcher(model, new() { MaxBatchRows = rows, MaxWait = Forever }))
        {
            var actual = await Task.WhenAll(requests.Select(r => batcher.GenerateAsync(r.Prompt, r.Options)));

            for (var i = 0; i < requests.Length; i++) ShouldMatch(actual[i], expected[i], $"request {i}");
            batcher.Statistics.Should().Be(new GenerationBatcherStatistics(Batches: 1, Rows: rows, LargestBatchRows: rows));
        }
        expected.Select(g => g[0].Tokens.Count).Distinct().Should().HaveCountGreaterThan(3, "rows leave the batch at different steps");
        expected[0][0].Tokens.Should().NotEqual(expected[6][0].Tokens, "the same prompt with other options gives another result");
    }

    [Fact]
    public async Task PromptsOfDifferentLengthsRunInSeparateBatches()
    {
        using var model = Transformer();
        var random = new Random(5);
        // Four rows per length, so each length's batch starts once its requests are queued, in the order of its oldest.
        var requests = new[] { 3, 6, 4, 3, 6, 4 }
            .Select((length, i) => (Prompt: Enumerable.Range(0, length).Select(_ => random.Next(Small.VocabularySize)).ToArray(),
                Options: new SamplingOptions { Seed = i, MaxNewTokens = 6 + i, NumSamples = i < 3 ? 1 : 3 }))
            .ToArray();
        var expected = requests.Select(r => Generator.Generate(model, r.Prompt, r.Options)).ToArray();

        await using var batcher = new GenerationBatcher(model, new() { MaxBatchRows = 4, MaxWait = Forever });
        var actual = await Task.WhenAll(requests.Select(r => batcher.GenerateAsync(r.Prompt, r.Options)));

        for (var i = 0; i < requests.Length; i++) ShouldMatch(actual[i], expected[i], $"request {i}");
        batcher.Statistics.Should().Be(new GenerationBatcherStatistics(Batches: 3, Rows: 12, LargestBatchRows: 4));
    }

    [Fact]
    public async Task StreamedTokensAreTheFinalTokensAndNeverAStopSequence()
    {
        using var cycle = Cycle(5);   // greedy from 1: 2, 3, 4, 0, 1, 2, 3, 4
        using var random = TableLm.Random(8, seed: 3, keyedBySum: true, scale: 1);
        SamplingOptions Greedy(params int[][] stops) => new() { Temperature = 0, MaxNewTokens = 8, StopSequences = stops };

        await using var cycleBatcher = new GenerationBatcher(cycle, new() { MaxWait = TimeSpan.Zero });
        var (stopped, stoppedStream) = await Streamed(cycleBatcher, [1], Greedy([3, 4]));
        var (released, releasedStream) = await Streamed(cycleBatcher, [1], Greedy([3, 0]));
        var (longStop, longStopStream) = await Streamed(cycleBatcher, [1], Greedy([4, 0, 1]));

        stopped.Single().Tokens.Should().Equal(2);
        stoppedStream.Select(t => t.Token).Should().Equal(2);
        released.Single().Tokens.Should().Equal(2, 3, 4, 0, 1, 2, 3, 4);
        releasedStream.Select(t => t.Token).Should().Equal(2, 3, 4, 0, 1, 2, 3, 4);
        longStop.Single().Tokens.Should().Equal(2, 3);
        longStopStream.Select(t => t.Token).Should().Equal(2, 3);

        var options = new SamplingOptions { Seed = 5, MaxNewTokens = 12, NumSamples = 16, StopSequences = [[0], [3, 5]] };
        await using var randomBatcher = new GenerationBatcher(random, new() { MaxWait = TimeSpan.Zero });
        var (samples, stream) = await Streamed(randomBatcher, [2, 5], options);

        ShouldMatch(samples, Generator.Generate(random, [2, 5], options), "batched alone");
        for (var s = 0; s < samples.Count; s++)
        {
            var streamed = stream.Where(t => t.Sample == s).ToArray();
            streamed.Select(t => t.Token).Should().Equal(samples[s].Tokens, $"sample {s} streams its tokens");
            streamed.Select(t => t.LogProb).Should().Equal(samples[s].LogProbs, $"sample {s} streams its log-probs");
        }
        samples.Select(s => s.FinishReason).Should().Contain(FinishReason.Stop).And.Contain(FinishReason.Length);
        samples.Should().Contain(s => s.Tokens.Contains(3), "a held-back 3 not followed by 5 is released");
    }

    [Fact]
    public async Task ACancelledRequestEndsAtTheNextStepAndTheOthersFinish()
    {
        using var model = Transformer();
        var prompt = new[] { 3, 1, 4, 1 };
        SamplingOptions[] others = [new() { Temperature = 0, MaxNewTokens = 20 }, new() { Seed = 9, MaxNewTokens = 15, NumSamples = 3 }];
        var expected = others.Select(o => Generator.Generate(model, prompt, o)).ToArray();

        await using var batcher = new GenerationBatcher(model, new() { MaxBatchRows = 5, MaxWait = Forever });
        using var cancellation = new CancellationTokenSource();
        var streamed = 0;
        var victim = batcher.GenerateAsync(prompt, new() { Seed = 1, MaxNewTokens = 20 }, _ =>
        {
            if (++streamed == 3) cancellation.Cancel();
        }, cancellation.Token);
        var results = others.Select(o => batcher.GenerateAsync(prompt, o)).ToArray();

        await victim.Invoking(async v => await v).Should().ThrowAsync<OperationCanceledException>();
        streamed.Should().Be(3, "the cancelled row leaves the batch at the next step");
        for (var i = 0; i < others.Length; i++) ShouldMatch(await results[i], expected[i], $"request {i}");
        batcher.Statistics.Batches.Should().Be(1);
    }

    [Fact]
    public async Task ARequestCancelledWhileQueuedNeverRuns()
    {
        using var model = TableLm.Uniform(4);
        await using var batcher = new GenerationBatcher(model, new() { MaxWait = Forever });
        using var cancellation = new CancellationTokenSource();
        var queued = batcher.GenerateAsync([1], new SamplingOptions(), cancellation: cancellation.Token);
        cancellation.Cancel();
        var alreadyCancelled = batcher.GenerateAsync([1], new SamplingOptions(), cancellation: cancellation.Token);

        await queued.Invoking(async q => await q).Should().ThrowAsync<OperationCanceledException>();
        await alreadyCancelled.Invoking(async q => await q).Should().ThrowAsync<OperationCanceledException>();
        batcher.Statistics.Batches.Should().Be(0);
    }

    [Fact]
    public async Task BadRequestsFailAloneAndTheBatcherGoesOn()
    {
        using var model = TableLm.Random(4, seed: 1);
        await using var batcher = new GenerationBatcher(model, new() { MaxWait = TimeSpan.Zero });
        var generate = (IReadOnlyList<int> prompt, SamplingOptions options) => () => batcher.GenerateAsync(prompt, options);

        await generate([], new SamplingOptions()).Should().ThrowAsync<ArgumentException>().WithParameterName("prompt");
        await generate([1, 4], new SamplingOptions()).Should().ThrowAsync<ArgumentException>().WithMessage("prompt[1] = 4*");
        await generate([1], new SamplingOptions { StopSequences = [[9]] }).Should().ThrowAsync<ArgumentException>()
            .WithParameterName("StopSequences");
        var options = new SamplingOptions { Seed = 2, MaxNewTokens = 5 };
        ShouldMatch(await batcher.GenerateAsync([1, 2], options), Generator.Generate(model, [1, 2], options), "after the bad requests");
        batcher.Statistics.Batches.Should().Be(1, "bad requests are never queued");
    }

    [Fact]
    public async Task ALibTorchErrorFailsItsBatchAndLaterBatchesRun()
    {
        using var table = TableLm.Random(6, seed: 2);
        using var model = new PoisonedLm(table, poison: 0);
        await using var batcher = new GenerationBatcher(model, new() { MaxBatchRows = 2, MaxWait = Forever });
        var poisoned = batcher.GenerateAsync([0, 1], new SamplingOptions { Seed = 1 });
        var besidePoisoned = batcher.GenerateAsync([2, 3], new SamplingOptions { Seed = 2 });

        await poisoned.Invoking(async t => await t).Should().ThrowAsync<TorchException>();
        await besidePoisoned.Invoking(async t => await t).Should().ThrowAsync<TorchException>("it shared the failing batch");
        var options = new SamplingOptions { Seed = 3, MaxNewTokens = 7, NumSamples = 2 };
        ShouldMatch(await batcher.GenerateAsync([2, 3, 4], options), Generator.Generate(table, [2, 3, 4], options), "the next batch");
        batcher.Statistics.Batches.Should().Be(2);
    }

    [Fact]
    public async Task DisposingFailsQueuedAndRunningRequestsAndLaterOnes()
    {
        using var model = Transformer();
        var batcher = new GenerationBatcher(model, new() { MaxBatchRows = 1, MaxWait = Forever });
        Task? disposal = null;
        var streamed = 0;
        using var secondQueued = new ManualResetEventSlim();
        var running = batcher.GenerateAsync([1, 2], new SamplingOptions { Seed = 1, MaxNewTokens = 20 }, _ =>
        {
            if (++streamed == 1) secondQueued.Wait();
            if (streamed == 2) disposal = batcher.DisposeAsync().AsTask();
        });
        var queued = batcher.GenerateAsync([1, 2, 3], new SamplingOptions { Seed = 2, MaxNewTokens = 20, NumSamples = 3 });
        secondQueued.Set();

        await running.Invoking(async t => await t).Should().ThrowAsync<ObjectDisposedException>();
        await queued.Invoking(async t => await t).Should().ThrowAsync<ObjectDisposedException>();
        await disposal!;
        streamed.Should().Be(2, "the batch stops at the next step");
        var late = () => batcher.GenerateAsync([1], new SamplingOptions());
        await late.Should().ThrowAsync<ObjectDisposedException>();
        await batcher.DisposeAsync();
    }

    [Fact]
    public async Task ManyRequestsLeaveNoNativeTensorBehind()
    {
        using var model = Transformer();
        var baseline = NativeTensors.SettledCount();
        await using (var batcher = new GenerationBatcher(model, new() { MaxBatchRows = 8, MaxWait = TimeSpan.FromMilliseconds(1) }))
        {
            for (var round = 0; round < 4; round++)
            {
                using var cancellation = new CancellationTokenSource();
                var requests = Enumerable.Range(0, 12).Select(i => batcher.GenerateAsync(
                    Enumerable.Range(i, 2 + i % 3).Select(t => t % Small.VocabularySize).ToArray(),
                    new SamplingOptions { Seed = i, Temperature = i % 4 == 0 ? 0 : 1, MaxNewTokens = 4 + i, NumSamples = 1 + i % 3, StopSequences = [[i]] },
                    i == 5 ? _ => cancellation.Cancel() : null,
                    i == 5 ? cancellation.Token : default)).ToArray();
                var outcomes = await Task.WhenAll(requests.Select(r => r.ContinueWith(t => t.Status)));
                outcomes.Should().Contain(TaskStatus.RanToCompletion).And.OnlyContain(s => s == TaskStatus.RanToCompletion || s == TaskStatus.Canceled);
            }
        }
        LibTorch.LiveTensorCount.Should().Be(baseline, "every batch disposes the tensors it creates");
    }

    private static TransformerLm Transformer()
    {
        var model = TransformerTesting.Build(Small, seed: 7);
        model.Eval();
        return model;
    }

    /// <summary>A bigram model that follows token i with i + 1 mod V almost surely.</summary>
    private static TableLm Cycle(int vocabulary)
    {
        var logits = new float[vocabulary, vocabulary];
        for (var i = 0; i < vocabulary; i++) logits[i, (i + 1) % vocabulary] = 10;
        return new TableLm(logits);
    }

    private static async Task<(IReadOnlyList<Generation> Samples, List<StreamedToken> Stream)> Streamed(
        GenerationBatcher batcher, int[] prompt, SamplingOptions options)
    {
        var stream = new List<StreamedToken>();
        var samples = await batcher.GenerateAsync(prompt, options, stream.Add);
        return (samples, stream);
    }

    private static void ShouldMatch(IReadOnlyList<Generation> actual, IReadOnlyList<Generation> expected, string what)
    {
        actual.Should().HaveCount(expected.Count, what);
        for (var s = 0; s < expected.Count; s++)
        {
            actual[s].Tokens.Should().Equal(expected[s].Tokens, $"{what}, sample {s}");
            actual[s].LogProbs.Should().Equal(expected[s].LogProbs, (a, b) => Math.Abs(a - b) < 1e-9, $"{what}, sample {s}");
            actual[s].FinishReason.Should().Be(expected[s].FinishReason, $"{what}, sample {s}");
        }
    }

    /// <summary>Decodes as <paramref name="inner"/>, but a prompt starting with <paramref name="poison"/> makes libtorch fail.</summary>
    private sealed class PoisonedLm(ILanguageModel inner, int poison) : ILanguageModel
    {
        public int VocabularySize => inner.VocabularySize;

        public long ParameterCount => inner.ParameterCount;

        public int? ContextLength => inner.ContextLength;

        public IEnumerable<Tensor> Parameters() => inner.Parameters();

        public Tensor Forward(Tensor tokens) => inner.Forward(tokens);

        public Tensor Loss(Tensor tokens, Tensor targets) => inner.Loss(tokens, targets);

        public IDecodingState BeginDecoding(int batchSize) => inner.BeginDecoding(batchSize);

        public Tensor Step(IDecodingState state, Tensor tokens)
        {
            if (state.Length == 0 && tokens.Select(1, 0).ToArray<long>().Contains(poison))
                return Tensor.Ones([2]) + Tensor.Ones([3]);   // shapes that do not broadcast
            return inner.Step(state, tokens);
        }

        public double FlopsPerToken(int contextLength) => inner.FlopsPerToken(contextLength);

        public void Dispose()
        {
        }
    }
}
