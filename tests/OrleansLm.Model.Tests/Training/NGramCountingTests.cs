using System.Diagnostics;
using OrleansLm.Model.Models;
using OrleansLm.Model.Text;
using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Training;

/// <summary>The n-gram run's steps that a cluster shares with <see cref="TrainingRun.Execute"/>: counting a slice, and building the model from counts.</summary>
public sealed class NGramCountingTests
{
    [Fact]
    public void CountingASliceInPiecesCountsWhatOneAddCounts()
    {
        // The validation split, 2.1 million tokens from position 900,000: counted in two pieces whose grams look back across both starts.
        var random = new Random(3);
        var corpus = new Corpus(Enumerable.Range(0, 3_000_000).Select(_ => random.Next(5)).ToArray(), 5, trainFraction: 0.3);
        var expected = new NGramCounts(3, 5);
        expected.Add(corpus.Validation);

        var counts = TrainingRun.CountNGrams(new NGramSection(Order: 3), corpus, corpus.Validation);

        counts.Tokens.Should().Be(corpus.Validation.Length);
        for (var k = 1; k <= 3; k++)
            counts.Grams(k).Select(g => (string.Join(',', g.Gram), g.Count))
                .Should().BeEquivalentTo(expected.Grams(k).Select(g => (string.Join(',', g.Gram), g.Count)), $"order {k}");
    }

    [Fact]
    public void ACancelledCountStops()
    {
        var corpus = new Corpus([0, 1, 2, 1, 0], 3);
        var count = () => TrainingRun.CountNGrams(new NGramSection(Order: 2), corpus, corpus.Train, new CancellationToken(canceled: true));
        count.Should().Throw<OperationCanceledException>();
    }

    [Fact]
    public void AModelIsBuiltOnlyFromCountsOfTheWholeTrainingSplitAtTheConfiguredOrder()
    {
        var tokenizer = CharTokenizer.FromCorpus("abcd");
        var corpus = Corpus.FromText(string.Concat(Enumerable.Repeat("abcabdacbd", 30)), tokenizer);
        var section = new NGramSection(Order: 2);
        RunSummary Build(NGramCounts counts) => TrainingRun.SaveNGramModel(section, counts, corpus, tokenizer, checkpoint: null, Stopwatch.StartNew());

        var part = TrainingRun.CountNGrams(section, corpus, corpus.TrainShard(3, 0));
        part.Tokens.Should().Be(corpus.TrainShard(3, 0).Length);
        FluentActions.Invoking(() => Build(part)).Should().Throw<ArgumentException>()
            .WithMessage($"the counts hold {part.Tokens} tokens but the training split has {corpus.Train.Length}*").WithParameterName("counts");
        FluentActions.Invoking(() => Build(TrainingRun.CountNGrams(section with { Order = 3 }, corpus, corpus.Train))).Should().Throw<ArgumentException>()
            .WithMessage("counts of order 3 over 4 tokens do not fit model.order 2*");

        var whole = Build(TrainingRun.CountNGrams(section, corpus, corpus.Train));
        whole.TrainTokens.Should().Be(corpus.Train.Length);
        whole.ValidationLoss.Should().BeApproximately(section.Build(NGramCounts.FromTokens(2, 4, corpus.Train.Tokens)).CrossEntropy(corpus.Validation.Tokens), 1e-12);
    }
}
