using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;

namespace OrleansLm.Model.Tests.Parallel;

[Collection(NativeStateCollection.Name)]
public sealed class DataParallelReplicaTests
{
    [Fact]
    public void LoadingEveryShardGivesTheModelTheFlatVector()
    {
        using var model = TinyModels.Transformer(seed: 1);
        var layout = ParameterLayout.Of(model);
        var shards = layout.Split(3);
        using var replica = new DataParallelReplica(model, layout, shards);
        var values = TinyModels.RandomValues(layout.Count, seed: 1);

        foreach (var shard in shards) replica.LoadShard(shard.Index, values.AsSpan((int)shard.Start, (int)shard.Length));

        layout.Flatten(model).Should().Equal(values);
    }

    [Fact]
    public void LoadingOneShardChangesOnlyItsRange()
    {
        using var model = TinyModels.Transformer(seed: 2);
        var layout = ParameterLayout.Of(model);
        var shards = layout.Split(3);
        using var replica = new DataParallelReplica(model, layout, shards);
        var before = layout.Flatten(model);
        var middle = TinyModels.RandomValues(shards[1].Length, seed: 2);

        replica.LoadShard(1, middle);

        var after = layout.Flatten(model);
        after[..(int)shards[1].Start].Should().Equal(before[..(int)shards[1].Start]);
        after[(int)shards[1].Start..(int)shards[1].End].Should().Equal(middle);
        after[(int)shards[1].End..].Should().Equal(before[(int)shards[1].End..]);
        var wrongLength = () => replica.LoadShard(1, middle.AsSpan(1));
        wrongLength.Should().Throw<ArgumentException>().WithMessage($"shard 1 holds {shards[1].Length} values, got {shards[1].Length - 1}*");
    }

    [Fact]
    public void ASingleReplicasSlicesAreTheWholeBatchGradient()
    {
        using var model = TinyModels.Transformer(seed: 3);
        using var reference = TinyModels.Transformer(seed: 4);
        reference.LoadStateDict(model.StateDict());
        var layout = ParameterLayout.Of(model);
        var batches = TinyModels.Windows(TinyModels.Corpus.Train);
        using var replica = new DataParallelReplica(model, layout, layout.Split(2));

        ReplicaGradients gradients;
        using (LibTorch.NoGrad()) gradients = replica.ComputeGradients(step: 5, part: 0, BatchTokens.Of(batches, 5, 0, 1));  // records even when the thread did not
        LibTorch.IsGradEnabled.Should().BeTrue();

        using var scope = DisposeScope.Enter();
        var (inputs, targets) = batches.Batch(5);
        var loss = reference.Loss(inputs, targets);
        loss.Backward();
        gradients.Loss.Should().Be(loss.ToDouble());
        gradients.Tokens.Should().Be(targets.NumElements);
        gradients.Slices.SelectMany(s => s).Should().Equal(reference.Parameters().SelectMany(p => p.Grad!.ToArray<float>()));
        model.Parameters().Should().OnlyContain(p => p.Grad == null, "the replica keeps no gradient between steps");
    }

    [Fact]
    public void ARecurrentReplicaCarriesEachPartsStateAndStartsAPartItDidNotComputeFromZeros()
    {
        using var model = TinyModels.Lstm(seed: 5);
        var layout = ParameterLayout.Of(model);
        var shards = layout.Split(2);
        var streams = TinyModels.Streams(TinyModels.Corpus.Train);
        using var replica = new DataParallelReplica(model, layout, shards);
        ReplicaGradients Part(DataParallelReplica on, long step, int part) => on.ComputeGradients(step, part, BatchTokens.Of(streams, step, part, 2));

        Part(replica, 0, part: 1);
        var continued = Part(replica, 1, part: 1);
        var redone = Part(replica, 1, part: 1);
        var movedHere = Part(replica, 2, part: 0);

        // Fresh replicas of the same parameters start from zeros.
        using var freshModel = TinyModels.Lstm(seed: 6);
        freshModel.LoadStateDict(model.StateDict());
        using var fresh = new DataParallelReplica(freshModel, layout, shards);
        redone.Loss.Should().Be(continued.Loss, "a redone step starts where its first attempt started");
        redone.Slices.Should().BeEquivalentTo(continued.Slices, o => o.WithStrictOrdering());
        Part(fresh, 1, part: 1).Loss.Should().NotBe(continued.Loss, "step 1 continues step 0's state");
        Part(fresh, 2, part: 0).Loss.Should().Be(movedHere.Loss, "a part the replica did not compute at step 1 starts from zeros");
    }

    [Fact]
    public void AReplicaComputingTwoPartsCarriesBothAsTwoReplicasWould()
    {
        using var both = TinyModels.Lstm(seed: 9);
        using var first = TinyModels.Lstm(seed: 10);
        using var second = TinyModels.Lstm(seed: 11);
        first.LoadStateDict(both.StateDict());
        second.LoadStateDict(both.StateDict());
        var layout = ParameterLayout.Of(both);
        var streams = TinyModels.Streams(TinyModels.Corpus.Train);
        using var twoParts = new DataParallelReplica(both, layout, layout.Split(1));
        using var onePart = new DataParallelReplica(first, layout, layout.Split(1));
        using var otherPart = new DataParallelReplica(second, layout, layout.Split(1));
        ReplicaGradients Part(DataParallelReplica on, long step, int part) => on.ComputeGradients(step, part, BatchTokens.Of(streams, step, part, 2));

        for (var step = 0; step < 3; step++)
        {
            var together = ReplicaGradients.Combine([Part(twoParts, step, 0), Part(twoParts, step, 1)]);
            var apart = ReplicaGradients.Combine([Part(onePart, step, 0), Part(otherPart, step, 1)]);
            together.Loss.Should().Be(apart.Loss, $"step {step}");
            together.Slices[0].Should().Equal(apart.Slices[0], $"step {step}");
        }
    }

    [Fact]
    public void CombinedPartsAreTheirTargetWeightedMean()
    {
        var a = new ReplicaGradients(Loss: 1.0, Tokens: 1, Slices: [[1f, 2f], [4f]]);
        var b = new ReplicaGradients(Loss: 4.0, Tokens: 3, Slices: [[5f, -2f], [0f]]);

        var combined = ReplicaGradients.Combine([a, b]);

        combined.Tokens.Should().Be(4);
        combined.Loss.Should().BeApproximately((1.0 * 1 + 4.0 * 3) / 4, 1e-12);
        combined.Slices[0].Should().Equal((1f + 15f) / 4, (2f - 6f) / 4);
        combined.Slices[1].Should().Equal(1f);
        var mismatched = () => ReplicaGradients.Combine([a, b with { Slices = [[1f], [2f]] }]);
        mismatched.Should().Throw<ArgumentException>().WithMessage("*different shard slices*");
        var none = () => ReplicaGradients.Combine([]);
        none.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void EvaluateIsTheMeanLossOverTheFirstBatchesInEvalMode()
    {
        using var model = TinyModels.Transformer(seed: 7);
        var layout = ParameterLayout.Of(model);
        var validation = TinyModels.Windows(TinyModels.Corpus.Validation);
        using var replica = new DataParallelReplica(model, layout, layout.Split(1));

        var loss = replica.Evaluate(validation, batches: 3);

        using var scope = DisposeScope.Enter();
        using var noGrad = LibTorch.NoGrad();
        var expected = Enumerable.Range(0, 3).Average(i =>
        {
            var (inputs, targets) = validation.Batch(i);
            return model.Loss(inputs, targets).ToDouble();
        });
        loss.Should().BeApproximately(expected, 1e-6);
        model.Training.Should().BeTrue();
    }

    [Fact]
    public void AModelOrShardsThatDoNotMatchTheLayoutAreRefused()
    {
        using var small = TinyModels.Transformer(seed: 8, dimension: 8);
        using var large = TinyModels.Transformer(seed: 8, dimension: 16);
        var layout = ParameterLayout.Of(small);

        var otherModel = () => new DataParallelReplica(large, layout, layout.Split(2));
        otherModel.Should().Throw<ArgumentException>().WithMessage($"the model's parameter 0 is '{layout.Parameters[0].Name}' [*, 16], the layout's is*");

        var split = layout.Split(3);
        var gap = () => new DataParallelReplica(small, layout, [split[0], split[2] with { Index = 1 }]);
        gap.Should().Throw<ArgumentException>().WithMessage($"shards[1].Start is {split[2].Start}, expected {split[1].Start}*");
        var missingShard = () => new DataParallelReplica(small, layout, split.Take(2).ToList());
        missingShard.Should().Throw<ArgumentException>().WithMessage($"shards cover [0, {split[1].End}) but the model has {layout.Count} parameters*");
    }
}
