using System.Globalization;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using Xunit.Abstractions;

namespace OrleansLm.Model.Tests.Parallel;

/// <summary>
/// The core property of the distributed trainer: N replicas with batch B/N and K parameter shards follow the
/// single-process <see cref="Trainer"/>'s loss trajectory with batch B.
/// </summary>
[Collection(NativeStateCollection.Name)]
public sealed class DataParallelEquivalenceTests(ITestOutputHelper output) : IDisposable
{
    private const int Steps = 50;
    private const double Tolerance = 1e-4;
    private readonly ParallelRunFixture fixture = new();

    public void Dispose() => fixture.Dispose();

    public static TheoryData<string, string, string, double> Runs => new()
    {
        { "transformer + adamw", ParallelRunFixture.Transformer, ParallelRunFixture.AdamW(1e-2), 0.5 },
        { "transformer + sgd nesterov", ParallelRunFixture.Transformer, ParallelRunFixture.SgdNesterov(0.2), 0.5 },
        { "lstm tbptt + adamw", ParallelRunFixture.Lstm, ParallelRunFixture.AdamW(3e-2), 0.2 },
        { "lstm tbptt + sgd nesterov", ParallelRunFixture.Lstm, ParallelRunFixture.SgdNesterov(1.0), 0.2 },
    };

    [Theory]
    [MemberData(nameof(Runs))]
    public void ReplicasAndShardsFollowTheSingleProcessTrajectory(string name, string model, string optimizer, double clip)
    {
        var config = fixture.Config(model, optimizer, Steps, clip);
        var corpus = ParallelRunFixture.Corpus(config);
        var reference = ParallelRunFixture.ReferenceLosses(config, corpus);
        reference.Should().HaveCount(Steps);
        reference.Skip(Steps - 5).Average().Should().BeLessThan(0.85 * reference.Take(5).Average(), "the run really trains");

        foreach (var workers in new[] { 2, 3 })
        foreach (var shards in new[] { 1, 2, 3 })
        {
            using var cluster = new InProcessDataParallel(config, corpus, workers, shards);
            var steps = Enumerable.Range(0, Steps).Select(_ => cluster.RunStep()).ToList();
            var worst = steps.Select((s, i) => Math.Abs(s.Loss - reference[i]) / Math.Abs(reference[i])).Max();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}, {workers} workers, {shards} shards: max relative loss difference {worst:E2}"));
            worst.Should().BeLessThanOrEqualTo(Tolerance, $"{workers} workers and {shards} shards");
            steps.Count(s => s.ClipCoefficient < 1).Should().BePositive("clipping takes part in the trajectory");
        }
    }

    [Fact]
    public void BFloat16ReplicasFollowTheBFloat16TrajectoryWhichStaysNearTheFloat32One()
    {
        const int steps = 20;
        var fp32 = fixture.Config(ParallelRunFixture.Transformer, ParallelRunFixture.AdamW(1e-2), steps);
        var bf16 = fixture.Config(ParallelRunFixture.Transformer, ParallelRunFixture.AdamW(1e-2), steps, precision: "bf16");
        var corpus = ParallelRunFixture.Corpus(bf16);
        var exact = ParallelRunFixture.ReferenceLosses(fp32, corpus);
        var autocast = ParallelRunFixture.ReferenceLosses(bf16, corpus);

        // Matrix products in BFloat16 (8-bit mantissa) move the losses by well under 1%, but they do move them.
        var drift = autocast.Select((loss, i) => Math.Abs(loss - exact[i]) / exact[i]).ToList();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bf16 vs fp32: max relative loss difference {drift.Max():E2}"));
        drift.Max().Should().BeLessThan(0.02);
        drift.Max().Should().BePositive("the forward pass really ran in BFloat16");

        // Half batches round their BFloat16 products in other orders than the whole batch: the replicas follow the
        // single-process BFloat16 run to within BFloat16's rounding (2⁻⁸ ≈ 4e-3), not Float32's.
        using var cluster = new InProcessDataParallel(bf16, corpus, workers: 2, shards: 2);
        var distributed = cluster.Run(steps);
        distributed.Select((loss, i) => Math.Abs(loss - autocast[i]) / autocast[i]).Max().Should().BeLessThanOrEqualTo(1e-3);
    }

    [Fact]
    public void RestoredShardsContinueTheExactTrajectory()
    {
        var config = fixture.Config(ParallelRunFixture.Transformer, ParallelRunFixture.AdamW(1e-2), steps: 20);
        var corpus = ParallelRunFixture.Corpus(config);
        List<double> uninterrupted;
        using (var cluster = new InProcessDataParallel(config, corpus, workers: 2, shards: 3)) uninterrupted = cluster.Run(20);

        var checkpoint = Directory.CreateDirectory(Path.Combine(fixture.Path, "step10")).FullName;
        using (var cluster = new InProcessDataParallel(config, corpus, workers: 2, shards: 3))
        {
            cluster.Run(10).Should().Equal(uninterrupted.Take(10));
            cluster.Save(checkpoint);
        }
        using var resumed = new InProcessDataParallel(config, corpus, workers: 2, shards: 3, resumeFrom: checkpoint);
        resumed.Step.Should().Be(10);
        resumed.Run(20).Should().Equal(uninterrupted.Skip(10), "values, optimizer state and step counts all come back");
    }

    [Fact]
    public void AFreshOptimizerStateWouldDivergeFromTheRestoredTrajectory()
    {
        // Guards the test above: without the saved Adam moments, the same values do not continue the trajectory.
        var config = fixture.Config(ParallelRunFixture.Transformer, ParallelRunFixture.AdamW(1e-2), steps: 20);
        var corpus = ParallelRunFixture.Corpus(config);
        var checkpoint = Directory.CreateDirectory(Path.Combine(fixture.Path, "fresh")).FullName;
        List<double> continued;
        using (var cluster = new InProcessDataParallel(config, corpus, workers: 2, shards: 2))
        {
            cluster.Run(10);
            cluster.Save(checkpoint);
            continued = cluster.Run(12);
        }
        foreach (var k in new[] { 0, 1 })
        {
            var file = InProcessDataParallel.ShardFile(checkpoint, k);
            using var content = Safetensors.Load(file);
            var stripped = content.Tensors.Where(t => !t.Key.StartsWith("optimizer.", StringComparison.Ordinal)).ToDictionary();
            var metadata = content.Metadata.ToDictionary();
            metadata["olm.shard.optimizer_steps"] = $"[{string.Join(",", Enumerable.Repeat(0, metadata["olm.shard.optimizer_steps"].Split(',').Length))}]";
            Safetensors.Save(file, stripped, metadata);
        }
        using var resumed = new InProcessDataParallel(config, corpus, workers: 2, shards: 2, resumeFrom: checkpoint);
        var losses = resumed.Run(12);
        losses[0].Should().Be(continued[0], "step 10's loss depends only on the values");
        losses[1].Should().NotBe(continued[1]);
    }
}
