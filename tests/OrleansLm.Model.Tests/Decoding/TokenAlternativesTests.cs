using OrleansLm.Model.Decoding;
using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests.Decoding;

[Collection(NativeStateCollection.Name)]
public class TokenAlternativesTests
{
    private static readonly TransformerConfig Small = new(VocabularySize: 19, BlockSize: 8, Layers: 1, Heads: 2, ModelDimension: 16);

    [Theory]
    [InlineData(6, 2)]    // within the context: every position sees the whole prefix
    [InlineData(20, 5)]   // past it: positions see the last BlockSize tokens, as decoding does
    public void EachPositionsAlternativesAreTheMostLikelyTokensOfForwardOnItsContext(int length, int start)
    {
        using var model = TransformerTesting.Build(Small, seed: 3);
        model.Eval();
        var random = new Random(5);
        var sequence = Enumerable.Range(0, length).Select(_ => random.Next(Small.VocabularySize)).ToArray();

        var alternatives = TokenAlternatives.Compute(model, sequence, start, count: 4);

        alternatives.Should().HaveCount(length - start);
        using var noGrad = LibTorch.NoGrad();
        for (var position = start; position < length; position++)
        {
            using var scope = DisposeScope.Enter();
            var context = sequence[Math.Max(0, position - Small.BlockSize)..position];
            var logits = model.Forward(Tensor.FromArray(context.Select(t => (long)t).ToArray(), [1, context.Length]));
            var expected = logits.Narrow(1, context.Length - 1, 1).Reshape(-1).To(ScalarType.Float64).LogSoftmax(-1).ToArray<double>()
                .Select((logProb, token) => (token, logProb)).OrderByDescending(p => p.logProb).Take(4).ToArray();
            var actual = alternatives[position - start];
            actual.Select(a => a.Token).Should().Equal(expected.Select(e => e.token), $"position {position}");
            for (var i = 0; i < 4; i++) actual[i].LogProb.Should().BeApproximately(expected[i].logProb, 1e-5);
        }
    }

    [Fact]
    public void BadArgumentsNameTheirParameter()
    {
        using var model = TransformerTesting.Build(Small, seed: 3);
        FluentActions.Invoking(() => TokenAlternatives.Compute(model, [1, 2, 3], 0, 2)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("start");
        FluentActions.Invoking(() => TokenAlternatives.Compute(model, [1, 2, 3], 4, 2)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("start");
        FluentActions.Invoking(() => TokenAlternatives.Compute(model, [1, 2, 3], 1, 21)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("count");
        FluentActions.Invoking(() => TokenAlternatives.Compute(model, [1, 99], 1, 2)).Should().Throw<ArgumentException>().WithParameterName("sequence");
    }
}
