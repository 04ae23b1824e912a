using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;

namespace OrleansLm.Model.Tests.Parallel;

[Collection(NativeStateCollection.Name)]
public sealed class ParameterShardTests : IDisposable
{
    private static readonly OptimizerSection PlainSgd = new(OptimizerKind.Sgd, Lr: 1, WeightDecay: 0);
    private readonly string directory = Directory.CreateTempSubdirectory("olm-shard-").FullName;

    public void Dispose() => Directory.Delete(directory, recursive: true);

    [Fact]
    public void ApplyStepsAlongTheClippedTokenWeightedMeanGradient()
    {
        using var model = TinyModels.Transformer(seed: 1);
        var layout = ParameterLayout.Of(model);
        var range = layout.Split(2)[1];
        var initial = TinyModels.RandomValues(range.Length, seed: 1);
        var (g1, g2) = (TinyModels.RandomValues(range.Length, seed: 2), TinyModels.RandomValues(range.Length, seed: 3));
        using var shard = new ParameterShard(layout, range, initial, PlainSgd);

        shard.Accumulate(g1, tokens: 30);
        shard.Accumulate(g2, tokens: 10);
        var mean = g1.Zip(g2, (a, b) => (30.0 * a + 10.0 * b) / 40).ToArray();
        shard.Contributions.Should().Be(2);
        shard.SquaredGradientNorm().Should().BeApproximately(mean.Sum(m => m * m), 1e-9 * mean.Sum(m => m * m));
        shard.Apply(learningRate: 0.5, clipCoefficient: 0.8);

        var values = shard.Values();
        for (var i = 0; i < values.Length; i++) values[i].Should().BeApproximately((float)(initial[i] - 0.5 * 0.8 * mean[i]), 1e-6f);
        shard.Contributions.Should().Be(0, "applying clears the accumulated gradient");
    }

    public static TheoryData<OptimizerSection> Optimizers => new()
    {
        new OptimizerSection(OptimizerKind.Adamw, Lr: 1e-2, WeightDecay: 0.3),
        new OptimizerSection(OptimizerKind.Adam, Lr: 1e-2, WeightDecay: 0.1, Amsgrad: true, DecayMatricesOnly: false),
        new OptimizerSection(OptimizerKind.Sgd, Lr: 0.1, WeightDecay: 0.2, Momentum: 0.9, Nesterov: true),
        new OptimizerSection(OptimizerKind.Sgd, Lr: 0.1, WeightDecay: 0.2, Momentum: 0.5, Dampening: 0.3),
        new OptimizerSection(OptimizerKind.Adagrad, Lr: 0.1, WeightDecay: 0.1),
        new OptimizerSection(OptimizerKind.Rmsprop, Lr: 1e-2, WeightDecay: 0.1, Momentum: 0.5, Centered: true),
    };

    [Theory]
    [MemberData(nameof(Optimizers))]
    public void ShardsUpdateTheirSegmentsAsTheOptimizerUpdatesWholeParameters(OptimizerSection section)
    {
        using var model = TinyModels.Transformer(seed: 2);
        var layout = ParameterLayout.Of(model);
        var initial = layout.Flatten(model);
        var shards = layout.Split(3).Select(r => new ParameterShard(layout, r, initial.AsSpan((int)r.Start, (int)r.Length), section)).ToList();
        using var optimizer = section.Build([.. model.Parameters()]);
        try
        {
            for (var step = 0; step < 3; step++)
            {
                var gradient = TinyModels.RandomValues(layout.Count, seed: 10 + step);
                var learningRate = section.Lr * (step + 1);
                using (var scope = DisposeScope.Enter())
                {
                    foreach (var (parameter, span) in model.Parameters().Zip(layout.Parameters))
                        parameter.Grad = Tensor.FromArray<float>(gradient.AsSpan((int)span.Offset, (int)span.Length), span.Shape);
                    optimizer.LearningRate = learningRate;
                    optimizer.Step();
                    optimizer.ZeroGrad();
                }
                foreach (var shard in shards)
                {
                    shard.Accumulate(gradient.AsSpan((int)shard.Range.Start, (int)shard.Range.Length), tokens: 1);
                    shard.Apply(learningRate, clipCoefficient: 1);
                }
            }
            var whole = layout.Flatten(model);
            var sharded = shards.SelectMany(s => s.Values()).ToArray();
            whole.Zip(sharded).Max(p => Math.Abs(p.First - p.Second)).Should().BeLessThan(1e-6f);
            whole.Should().NotEqual(initial);
        }
        finally
        {
            foreach (var shard in shards) shard.Dispose();
        }
    }

    [Fact]
    public void DecayMatricesOnlyDecaysASegmentByTheRankOfItsParameter()
    {
        using var model = TinyModels.Transformer(seed: 3);
        var layout = ParameterLayout.Of(model);
        // One shard covering a matrix's tail and the vector after it, so both are 1-D segments here.
        var vector = Enumerable.Range(1, layout.Parameters.Count - 1).First(i => layout.Parameters[i].Rank == 1 && layout.Parameters[i - 1].Rank == 2);
        var matrix = layout.Parameters[vector - 1];
        var range = new ShardRange(0, matrix.End - 5, 5 + layout.Parameters[vector].Length);
        var initial = TinyModels.RandomValues(range.Length, seed: 4);
        using var shard = new ParameterShard(layout, range, initial, new OptimizerSection(OptimizerKind.Adamw, WeightDecay: 0.5));

        // With a zero gradient AdamW's step is the decoupled decay alone: θ ← θ(1 − γλ).
        shard.Accumulate(new float[range.Length], tokens: 1);
        shard.Apply(learningRate: 0.1, clipCoefficient: 1);

        var values = shard.Values();
        values[..5].Should().Equal(initial[..5].Select(v => v * (float)(1 - 0.1 * 0.5)), (a, b) => Math.Abs(a - b) < 1e-7, "the matrix's elements decay");
        values[5..].Should().Equal(initial[5..], "the vector's elements do not");
    }

    [Fact]
    public void ASavedShardLoadsWithItsValuesOptimizerStateAndMetadata()
    {
        using var model = TinyModels.Transformer(seed: 4);
        var layout = ParameterLayout.Of(model);
        var range = layout.Split(3)[1];
        var section = new OptimizerSection(OptimizerKind.Adamw, Lr: 1e-2);
        using var original = new ParameterShard(layout, range, TinyModels.RandomValues(range.Length, seed: 5), section);
        for (var step = 0; step < 2; step++)
        {
            original.Accumulate(TinyModels.RandomValues(range.Length, seed: 6 + step), tokens: 4);
            original.Apply(1e-2, 1);
        }
        var path = Path.Combine(directory, "shard.safetensors");
        original.Save(path, new Dictionary<string, string> { ["step"] = "2" });

        using var loaded = ParameterShard.Load(path, layout, range, section);

        loaded.Values().Should().Equal(original.Values());
        loaded.Metadata["step"].Should().Be("2");
        var next = TinyModels.RandomValues(range.Length, seed: 9);
        foreach (var shard in new[] { original, loaded })
        {
            shard.Accumulate(next, tokens: 4);
            shard.Apply(1e-2, 1);
        }
        loaded.Values().Should().Equal(original.Values(), "the moments and step counts came back too");
    }

    [Fact]
    public void ATruncatedOrForeignFileIsRefused()
    {
        var (layout, range, section, path) = SavedShard();
        var bytes = File.ReadAllBytes(path);
        var truncated = Path.Combine(directory, "truncated.safetensors");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length - 10)]);
        var load = () => ParameterShard.Load(truncated, layout, range, section);
        load.Should().Throw<InvalidDataException>().WithMessage($"{truncated} is not a valid safetensors file*truncated*");

        var corrupt = Path.Combine(directory, "corrupt.safetensors");
        bytes[20] = (byte)'}';
        File.WriteAllBytes(corrupt, bytes);
        load = () => ParameterShard.Load(corrupt, layout, range, section);
        load.Should().Throw<InvalidDataException>().WithMessage($"{corrupt} is not a valid safetensors file*");

        var foreign = Path.Combine(directory, "foreign.safetensors");
        using (var scope = DisposeScope.Enter())
            Safetensors.Save(foreign, new Dictionary<string, Tensor> { ["values"] = Tensor.Ones([range.Length]) });
        load = () => ParameterShard.Load(foreign, layout, range, section);
        load.Should().Throw<InvalidDataException>().WithMessage($"{foreign} cannot be restored as a parameter shard: metadata 'olm.shard' is missing*");
    }

    [Fact]
    public void AFileOfAnotherRangeLayoutOrOptimizerIsRefusedNamingWhatDiffers()
    {
        var (layout, range, section, path) = SavedShard();
        var otherRange = () => ParameterShard.Load(path, layout, layout.Split(2)[1], section);
        otherRange.Should().Throw<InvalidDataException>().WithMessage("*range.Start:*");
        var otherIndex = () => ParameterShard.Load(path, layout, range with { Index = 2 }, section);
        otherIndex.Should().Throw<InvalidDataException>().WithMessage("*range.Index:*");

        using var largerModel = TinyModels.Transformer(seed: 1, dimension: 16);
        var otherLayout = ParameterLayout.Of(largerModel);
        var load = () => ParameterShard.Load(path, otherLayout, range, section);
        load.Should().Throw<InvalidDataException>().WithMessage("*layout.Count:*");

        load = () => ParameterShard.Load(path, layout, range, section with { Name = OptimizerKind.Rmsprop });
        load.Should().Throw<InvalidDataException>().WithMessage("*optimizer.name: the file holds the state of 'adamw', the shard's optimizer is 'rmsprop'");
        load = () => ParameterShard.Load(path, layout, range, section with { Amsgrad = true });
        load.Should().Throw<InvalidDataException>().WithMessage("*optimizer state:*missing*max_exp_avg_sq*");
    }

    [Fact]
    public void MisusesAreRefused()
    {
        using var model = TinyModels.Transformer(seed: 5);
        var layout = ParameterLayout.Of(model);
        var range = layout.Split(2)[0];
        var wrongInitial = () => new ParameterShard(layout, range, new float[3], PlainSgd);
        wrongInitial.Should().Throw<ArgumentException>().WithMessage($"shard 0 holds {range.Length} values, got 3*");
        var outside = () => new ParameterShard(layout, new ShardRange(0, layout.Count - 2, 4), new float[4], PlainSgd);
        outside.Should().Throw<ArgumentOutOfRangeException>().WithMessage($"a shard must be a non-empty range within [0, {layout.Count})*");

        using var shard = new ParameterShard(layout, range, new float[range.Length], PlainSgd);
        var apply = () => shard.Apply(0.1, 1);
        apply.Should().Throw<InvalidOperationException>().WithMessage("shard 0 has no gradient contributions*");
        var accumulate = () => shard.Accumulate(new float[2], tokens: 1);
        accumulate.Should().Throw<ArgumentException>().WithMessage($"shard 0 holds {range.Length} values, got a gradient of 2*");
        var save = () => shard.Save(Path.Combine(directory, "x.safetensors"), new Dictionary<string, string> { ["olm.shard"] = "mine" });
        save.Should().Throw<ArgumentException>().WithMessage("metadata key 'olm.shard' is reserved*");
    }

    // A shard (range 1 of 3, AdamW, two steps) saved to a file.
    private (ParameterLayout Layout, ShardRange Range, OptimizerSection Section, string Path) SavedShard()
    {
        using var model = TinyModels.Transformer(seed: 6);
        var layout = ParameterLayout.Of(model);
        var range = layout.Split(3)[1];
        var section = new OptimizerSection(OptimizerKind.Adamw);
        using var shard = new ParameterShard(layout, range, layout.Flatten(model).AsSpan((int)range.Start, (int)range.Length), section);
        shard.Accumulate(TinyModels.RandomValues(range.Length, seed: 7), tokens: 1);
        shard.Apply(1e-3, 1);
        var path = Path.Combine(directory, "saved.safetensors");
        shard.Save(path, new Dictionary<string, string>());
        return (layout, range, section, path);
    }
}
