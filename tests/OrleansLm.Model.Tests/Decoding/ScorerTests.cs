using OrleansLm.Model.Decoding;

namespace OrleansLm.Model.Tests.Decoding;

[Collection(NativeStateCollection.Name)]
public class ScorerTests
{
    [Fact]
    public void AUniformModelsPerplexityIsTheVocabularySize()
    {
        using var model = TableLm.Uniform(7);
        var scores = Scorer.Score(model, [[0, 1], [6, 5, 4, 3, 2, 1, 0, 6], [3, 3, 3]]);

        // Tolerances are float32's (the model's logits), relative 1e-6.
        foreach (var score in scores)
        {
            score.Perplexity.Should().BeApproximately(7, 1e-5);
            score.AverageSurprisalBits.Should().BeApproximately(Math.Log2(7), 1e-6);
        }
        SequenceScore.Pool(scores).Perplexity.Should().BeApproximately(7, 1e-5);
        scores[1].LogProbability.Should().BeApproximately(-7 * Math.Log(7), 1e-5);
    }

    [Fact]
    public void SurprisalsEqualHandComputedLogProbsAcrossPaddedBatches()
    {
        // Keyed by the sum of the history, so every position depends on all tokens before it; sequences of
        // different lengths share batches of two, so padding is exercised too.
        using var model = TableLm.Random(6, seed: 4, keyedBySum: true);
        int[][] sequences = [[1, 2, 3, 4, 5], [0, 5], [5, 4, 3, 2, 1, 0, 1, 2, 3], [2, 2, 2]];
        var scores = Scorer.Score(model, sequences, batchSize: 2);

        scores.Should().HaveCount(sequences.Length);
        for (var s = 0; s < sequences.Length; s++)
        {
            var sequence = sequences[s];
            var expected = Enumerable.Range(1, sequence.Length - 1)
                .Select(t => -model.NextTokenLogProbs(sequence[..t])[sequence[t]]).ToArray();
            scores[s].Surprisal.Should().Equal(expected, (a, b) => Math.Abs(a - b) < 1e-6);
            scores[s].SurprisalBits.Should().Equal(expected.Select(e => e / Math.Log(2)), (a, b) => Math.Abs(a - b) < 1e-6);
            scores[s].LogProbability.Should().BeApproximately(model.LogProbability(sequence[..1], sequence[1..]), 1e-6);
            scores[s].Perplexity.Should().BeApproximately(Math.Exp(expected.Average()), 1e-6 * Math.Exp(expected.Average()));
        }
    }

    [Fact]
    public void SequencesThatCannotBeScoredAreRejected()
    {
        using var model = TableLm.Uniform(4);
        var tooShort = () => Scorer.Score(model, [[1, 2], [3]]);
        tooShort.Should().Throw<ArgumentException>().Which.ParamName.Should().Be("sequences[1]");
        var outside = () => Scorer.Score(model, [1, -1]);
        outside.Should().Throw<ArgumentException>().WithMessage("sequences[0][1] = -1 is outside*");
    }
}
