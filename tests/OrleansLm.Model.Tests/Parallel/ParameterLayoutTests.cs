using OrleansLm.Model.Models;
using OrleansLm.Model.Training.Parallel;

namespace OrleansLm.Model.Tests.Parallel;

[Collection(NativeStateCollection.Name)]
public sealed class ParameterLayoutTests
{
    [Fact]
    public void TheLayoutListsTheModulesParametersBackToBackInTheirOrder()
    {
        using var model = TinyModels.Transformer(seed: 1);
        var layout = ParameterLayout.Of(model);

        var named = model.NamedParameters().ToList();
        layout.Parameters.Select(p => p.Name).Should().Equal(named.Select(p => p.Name));
        long offset = 0;
        for (var i = 0; i < named.Count; i++)
        {
            layout.Parameters[i].Shape.Should().Equal(named[i].Parameter.Shape);
            layout.Parameters[i].Rank.Should().Be((int)named[i].Parameter.Dim);
            layout.Parameters[i].Offset.Should().Be(offset);
            offset += named[i].Parameter.NumElements;
        }
        layout.Count.Should().Be(offset).And.Be(model.ParameterCount);
        layout.Parameters.Select(p => p.Rank).Should().Contain(1).And.Contain(2);
    }

    [Fact]
    public void FlattenConcatenatesTheParameterValuesInTheModelsOrder()
    {
        using var model = TinyModels.Transformer(seed: 2);
        var expected = model.Parameters().SelectMany(p => p.ToArray<float>()).ToArray();
        ParameterLayout.Of(model).Flatten(model).Should().Equal(expected);
    }

    [Fact]
    public void SplitCoversTheVectorExactlyOnceInBalancedContiguousRanges()
    {
        using var model = TinyModels.Transformer(seed: 3);
        var layout = ParameterLayout.Of(model);
        foreach (var shards in Enumerable.Range(1, 12).Append((int)layout.Count - 1).Append((int)layout.Count))
        {
            var ranges = layout.Split(shards);
            ranges.Select(r => r.Index).Should().Equal(Enumerable.Range(0, shards));
            ranges.Select(r => r.Start).Should().Equal(ranges.SkipLast(1).Select(r => r.End).Prepend(0), $"{shards} shards start at 0 and each where the one before ends");
            ranges[^1].End.Should().Be(layout.Count);
            (ranges.Max(r => r.Length) - ranges.Min(r => r.Length)).Should().BeLessThanOrEqualTo(1, $"{shards} shards are balanced");
        }
    }

    [Fact]
    public void SplitRefusesShardCountsOutsideOneToTheParameterCount()
    {
        using var model = TinyModels.Transformer(seed: 4);
        var layout = ParameterLayout.Of(model);
        var none = () => layout.Split(0);
        none.Should().Throw<ArgumentOutOfRangeException>().WithMessage($"the number of shards must lie in [1, {layout.Count}]*got 0*");
        var tooMany = () => layout.Split((int)layout.Count + 1);
        tooMany.Should().Throw<ArgumentOutOfRangeException>().WithParameterName("shards");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(17)]
    public void SegmentsCutEachParameterIntoConsecutivePiecesAcrossTheShards(int shards)
    {
        using var model = TinyModels.Transformer(seed: 5);
        var layout = ParameterLayout.Of(model);
        var covered = new long[layout.Parameters.Count];
        foreach (var range in layout.Split(shards))
        {
            var segments = layout.Segments(range);
            segments.Sum(s => s.Length).Should().Be(range.Length);
            foreach (var segment in segments)
            {
                segment.Start.Should().Be(covered[segment.Parameter], "each parameter continues where the previous shard stopped");
                (range.Start + segment.ShardOffset).Should().Be(layout.Parameters[segment.Parameter].Offset + segment.Start);
                covered[segment.Parameter] += segment.Length;
            }
        }
        covered.Should().Equal(layout.Parameters.Select(p => p.Length));
    }

    [Fact]
    public void LoadWritesTheFlatVectorIntoTheParametersAsTheInverseOfFlatten()
    {
        using var source = TinyModels.Transformer(seed: 6);
        using var target = TinyModels.Transformer(seed: 7);
        var layout = ParameterLayout.Of(target);
        var values = TinyModels.RandomValues(layout.Count, seed: 8);

        layout.Load(target, values);

        // Read back tensor by tensor, not through Flatten: parameter i holds values[offset_i, end_i) in row-major order.
        var parameters = target.Parameters().ToList();
        for (var i = 0; i < parameters.Count; i++)
            parameters[i].ToArray<float>().Should().Equal(values[(int)layout.Parameters[i].Offset..(int)layout.Parameters[i].End], layout.Parameters[i].Name);
        parameters.Should().OnlyContain(p => p.RequiresGrad, "loading values keeps the parameters trainable");

        layout.Load(target, layout.Flatten(source));
        target.Parameters().SelectMany(p => p.ToArray<float>()).Should().Equal(source.Parameters().SelectMany(p => p.ToArray<float>()));
    }

    [Fact]
    public void LoadTakesTheShardsSlicesOneAfterAnotherAndLeavesNoTensorsBehind()
    {
        using var source = TinyModels.Lstm(seed: 9);
        using var target = TinyModels.Lstm(seed: 10);
        var layout = ParameterLayout.Of(source);
        var flat = layout.Flatten(source);
        var slices = layout.Split(3).Select(r => flat[(int)r.Start..(int)r.End]).ToList();
        layout.Load(target, flat);   // warm-up
        var baseline = NativeTensors.SettledCount();

        layout.Load(target, slices.SelectMany(s => s).ToArray());

        NativeTensors.SettledCount().Should().Be(baseline);
        target.Parameters().SelectMany(p => p.ToArray<float>()).Should().Equal(source.Parameters().SelectMany(p => p.ToArray<float>()));
    }

    [Fact]
    public void LoadRefusesAVectorOfTheWrongLengthOrAModelOfAnotherShape()
    {
        using var model = TinyModels.Transformer(seed: 11);
        using var wider = TinyModels.Transformer(seed: 11, dimension: 16);
        var layout = ParameterLayout.Of(model);
        var before = layout.Flatten(model);

        var tooShort = () => layout.Load(model, new float[layout.Count - 1]);
        tooShort.Should().Throw<ArgumentException>().WithParameterName("values").WithMessage($"the layout holds {layout.Count} values, got {layout.Count - 1}*");
        var otherShape = () => layout.Load(wider, new float[layout.Count]);
        otherShape.Should().Throw<ArgumentException>().WithParameterName("model");
        layout.Flatten(model).Should().Equal(before, "a refused load changes nothing");
    }

    [Fact]
    public void AModelWithoutNamedParametersHasNoLayout()
    {
        var counts = new NGramCounts(2, TinyModels.Corpus.VocabularySize);
        counts.Add(TinyModels.Corpus.Train);
        using var ngram = new NGramLanguageModel(NGramLm.MaximumLikelihood(counts));
        var layout = () => ParameterLayout.Of(ngram);
        layout.Should().Throw<ArgumentException>().WithMessage("NGramLanguageModel is not a Module*");
    }
}
