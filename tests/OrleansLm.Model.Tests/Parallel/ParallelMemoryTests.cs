using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests.Parallel;

[Collection(NativeStateCollection.Name)]
public sealed class ParallelMemoryTests : IDisposable
{
    private readonly ParallelRunFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    [Fact]
    public void ReplicasAndShardsKeepAConstantNumberOfLiveTensorsOverALongRun()
    {
        // The LSTM on streams holds the most state: carried states in two slots, and per-segment Adam moments.
        var config = fixture.Config(ParallelRunFixture.Lstm, ParallelRunFixture.AdamW(1e-2), steps: 200);
        var corpus = ParallelRunFixture.Corpus(config);
        using var cluster = new InProcessDataParallel(config, corpus, workers: 2, shards: 3);
        // Warm-up: the first step creates the optimizer state, the first two fill both state slots.
        cluster.Run(2);
        var baseline = NativeTensors.SettledCount();

        var leaks = new List<string>();
        while (cluster.Step < 200)
        {
            cluster.RunStep();
            var live = LibTorch.LiveTensorCount;
            if (live != baseline && leaks.Count < 10) leaks.Add($"after step {cluster.Step}: {live} live tensors, {baseline} after step 2");
        }

        leaks.Should().BeEmpty("every tensor a step creates is disposed by its end, or replaces one it disposes");
    }
}
