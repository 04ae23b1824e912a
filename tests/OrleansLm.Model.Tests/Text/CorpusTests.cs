using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests.Text;

[Collection(NativeStateCollection.Name)]
public class CorpusTests
{
    /// <summary>Token i is i mod V, so a batch's values say where they came from.</summary>
    private static Corpus Counting(int length, int vocabularySize = 1 << 20) =>
        new(Enumerable.Range(0, length).Select(i => i % vocabularySize).ToArray(), vocabularySize);

    [Theory]
    [InlineData(1000, 900)]
    [InlineData(7, 6)]
    [InlineData(1, 0)]
    public void SplitIsNanoGptsFirstNinetyPercent(int length, int trainLength)
    {
        var corpus = Counting(length);

        (corpus.Train.Start, corpus.Train.Length).Should().Be((0, trainLength));
        (corpus.Validation.Start, corpus.Validation.End).Should().Be((trainLength, length));
    }

    [Fact]
    public void CorpusRejectsTokensOutsideTheVocabulary()
    {
        FluentActions.Invoking(() => new Corpus([0, 3, 1], vocabularySize: 3))
            .Should().Throw<ArgumentOutOfRangeException>().Where(e => e.ParamName == "tokens" && e.Message.Contains("tokens[1]"));
        FluentActions.Invoking(() => new Corpus([0], 3, trainFraction: 0))
            .Should().Throw<ArgumentOutOfRangeException>().WithParameterName("trainFraction");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(64)]
    public void ShardsAreDisjointCoverTheTrainingRangeAndAreDeterministic(int shardCount)
    {
        var corpus = Counting(1001);
        var shards = Enumerable.Range(0, shardCount).Select(i => corpus.TrainShard(shardCount, i)).ToArray();

        shards[0].Start.Should().Be(corpus.Train.Start);
        shards[^1].End.Should().Be(corpus.Train.End);
        for (var i = 0; i + 1 < shardCount; i++) shards[i].End.Should().Be(shards[i + 1].Start, "shards meet without gap or overlap");
        shards.Select(s => s.Length).Should().OnlyContain(n => n >= corpus.Train.Length / shardCount && n <= corpus.Train.Length / shardCount + 1);
        shards.SelectMany(s => s.Tokens.ToArray()).Should().Equal(corpus.Train.Tokens.ToArray());

        var again = Counting(1001);
        for (var i = 0; i < shardCount; i++)
        {
            var shard = again.TrainShard(shardCount, i);
            (shard.Start, shard.Length).Should().Be((shards[i].Start, shards[i].Length));
        }
        corpus.Invoking(c => c.TrainShard(shardCount, shardCount)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("shardIndex");
    }

    [Fact]
    public void WindowsAreBlockSizeTokensWithTargetsShiftedByOne()
    {
        var corpus = Counting(500);
        var data = corpus.TrainShard(3, 1);
        var sampler = new WindowSampler(data, blockSize: 8, seed: 42);
        using var scope = DisposeScope.Enter();

        var batch = sampler.Sample(step: 5, batchSize: 6);

        batch.Inputs.Shape.Should().Equal(6, 8);
        batch.Targets.Shape.Should().Equal(6, 8);
        batch.Inputs.DType.Should().Be(ScalarType.Int64);
        batch.ResetState.Should().BeTrue();
        var inputs = batch.Inputs.ToArray<long>();
        var targets = batch.Targets.ToArray<long>();
        for (var b = 0; b < 6; b++)
        {
            var start = data.Start + sampler.WindowStart(5, b);
            inputs.Skip(b * 8).Take(8).Should().Equal(Enumerable.Range(start, 8).Select(i => (long)i));
            targets.Skip(b * 8).Take(8).Should().Equal(Enumerable.Range(start + 1, 8).Select(i => (long)i));
        }
    }

    [Fact]
    public void WindowStartsCoverTheRangeAndDependOnlyOnSeedStepAndRow()
    {
        var data = Counting(40).Train;
        var sampler = new WindowSampler(data, blockSize: 4, seed: 7);
        var starts = Enumerable.Range(0, 2000).Select(step => sampler.WindowStart(step, 0)).ToArray();

        // nanoGPT's randint(len(data) − block_size): every start in [0, 32) and no other.
        starts.Distinct().Order().Should().Equal(Enumerable.Range(0, 36 - 4));
        new WindowSampler(data, 4, seed: 7).WindowStart(1234, 3).Should().Be(sampler.WindowStart(1234, 3));
        Enumerable.Range(0, 20).Select(r => new WindowSampler(data, 4, seed: 8).WindowStart(9, r))
            .Should().NotEqual(Enumerable.Range(0, 20).Select(r => sampler.WindowStart(9, r)));
    }

    [Fact]
    public void WorkersTakingRowSlicesDrawTheSingleProcessBatch()
    {
        var sampler = new WindowSampler(Counting(300).Train, blockSize: 5, seed: 3);
        using var scope = DisposeScope.Enter();

        var whole = sampler.Sample(step: 11, batchSize: 8);
        var parts = Enumerable.Range(0, 4).Select(k => sampler.Sample(step: 11, batchSize: 2, firstRow: 2 * k)).ToArray();

        using var inputs = Tensor.Cat(parts.Select(p => p.Inputs).ToArray());
        using var targets = Tensor.Cat(parts.Select(p => p.Targets).ToArray());
        inputs.ToArray<long>().Should().Equal(whole.Inputs.ToArray<long>());
        targets.ToArray<long>().Should().Equal(whole.Targets.ToArray<long>());
    }

    [Fact]
    public void StreamsContinueAcrossSegmentsAndWrapWithAReset()
    {
        // 40 tokens, 3 streams: (40 − 1) / 3 = 13 inputs each, starting at 0, 13, 26; 13 / 4 = 3 segments a pass.
        var streams = new TokenStreams(Counting(40).All, batchSize: 3, segmentLength: 4);
        streams.StreamLength.Should().Be(13);
        streams.SegmentsPerPass.Should().Be(3);
        using var scope = DisposeScope.Enter();

        var segments = Enumerable.Range(0, 4).Select(s => streams.Segment(s)).ToArray();

        segments.Select(s => s.ResetState).Should().Equal(true, false, false, true);
        for (var s = 0; s < 3; s++)
        {
            var inputs = segments[s].Inputs.ToArray<long>();
            var targets = segments[s].Targets.ToArray<long>();
            for (var b = 0; b < 3; b++)
            {
                var start = 13 * b + 4 * s;
                inputs.Skip(4 * b).Take(4).Should().Equal(Enumerable.Range(start, 4).Select(i => (long)i));
                targets.Skip(4 * b).Take(4).Should().Equal(Enumerable.Range(start + 1, 4).Select(i => (long)i));
            }
        }
        segments[3].Inputs.ToArray<long>().Should().Equal(segments[0].Inputs.ToArray<long>(), "the streams wrapped to their starts");
    }

    [Fact]
    public void BatchersRejectDataTooShortForOneBatch()
    {
        var data = Counting(10).All;
        FluentActions.Invoking(() => new WindowSampler(data, blockSize: 10, seed: 0)).Should().Throw<ArgumentException>().WithParameterName("data");
        FluentActions.Invoking(() => new TokenStreams(data, batchSize: 3, segmentLength: 4)).Should().Throw<ArgumentException>().WithParameterName("data");
    }
}
