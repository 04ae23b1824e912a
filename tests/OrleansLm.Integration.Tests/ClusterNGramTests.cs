using OrleansLm.Model.Models;
using OrleansLm.Model.Training;
using OrleansLm.Silo.Grains;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// An n-gram run's counting on two silos in this process (loopback transport, shared in-memory membership): N data
/// shards count their parts of the training split, against one process counting it all.
/// </summary>
public sealed class ClusterNGramTests : IAsyncLifetime
{
    private const int Order = 4;
    private const int Parts = 3;

    private readonly string directory = Directory.CreateTempSubdirectory("olm-cluster-ngram-").FullName;
    private InProcessCluster? cluster;

    private InProcessCluster Cluster => cluster ?? throw new InvalidOperationException("the cluster has not started");

    private string CorpusPath => Path.Combine(directory, "corpus.txt");

    public async Task InitializeAsync()
    {
        // Words drawn at random, so that the text has many distinct grams and no period a part boundary could hide in.
        var random = new Random(5);
        string[] words = ["the", "slings", "and", "arrows", "of", "outrageous", "fortune", "to", "be", "or", "not", "question", "nobler", "mind"];
        await File.WriteAllTextAsync(CorpusPath, string.Join(' ', Enumerable.Range(0, 1500).Select(_ => words[random.Next(words.Length)])));
        cluster = await InProcessCluster.StartAsync("ngram", [InProcessCluster.Worker, InProcessCluster.Worker]);
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null) await cluster.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    [Theory]
    [InlineData(NGramSmoothing.KneserNey)]
    [InlineData(NGramSmoothing.AddK)]
    public async Task ThreeDataShardsOnTwoSilosCountExactlyWhatOneProcessCounts(NGramSmoothing smoothing)
    {
        var config = Config(smoothing);
        var spec = new RunSpec(ConfigFile.ToJson(config), Workers: Parts, ParameterServers: 1);
        var runId = $"ngram-{smoothing}";
        var (tokenizer, corpus) = TrainingRun.LoadData(config.Data);
        var tokens = corpus.All.Tokens.ToArray();
        var trainLength = corpus.Train.Length;

        // Part 1 asked from the second silo first is placed there, so the run's counting spans both Cluster.Silos.
        var middle = NGramCounts.Load(new MemoryStream(await Cluster[1].GrainFactory.GetGrain<IDataShardGrain>(runId, 1).CountNGrams(spec, CancellationToken.None)));
        var (from, to) = (trainLength / Parts, 2 * trainLength / Parts);
        AssertSameGrams(middle, CountByHand(tokens, from, to), "part 1 counts the grams that end in its third, with the history before it");

        var modelPath = Path.Combine(directory, $"cluster-{smoothing}.ngram");
        var summary = await NGramCounting.CountAsync(Cluster[0].GrainFactory, new RunData(), runId, spec, modelPath, CancellationToken.None);

        Cluster.Silos.Should().OnlyContain(s => s.Runtime.ActivationCount > 0, "the parts were counted on both silos");
        AssertSameGrams(NGramCounts.Load(modelPath), CountByHand(tokens, 0, trainLength), "the merged parts count the whole training split");

        var singlePath = Path.Combine(directory, $"single-{smoothing}.ngram");
        var single = TrainingRun.Execute(config with { Training = new TrainingSection(Checkpoint: singlePath) });
        summary.ValidationLoss.Should().BeApproximately(single.ValidationLoss, 1e-12 * single.ValidationLoss);
        summary.Parameters.Should().Be(single.Parameters);
        summary.TrainTokens.Should().Be(trainLength);
        summary.Checkpoint.Should().Be(modelPath);

        var (loaded, loadedTokenizer, _) = TrainingRun.LoadForInference(modelPath);
        using (loaded)
        {
            loadedTokenizer.ToJson().Should().Be(tokenizer.ToJson());
            var model = loaded.Should().BeOfType<NGramLanguageModel>().Which.Model;
            model.Smoothing.Should().Be(smoothing);
            model.CrossEntropy(corpus.Validation.Tokens).Should().BeApproximately(single.ValidationLoss, 1e-12 * single.ValidationLoss);
        }
    }

    [Fact]
    public async Task BadPartsAreRefusedNamingTheField()
    {
        var json = ConfigFile.ToJson(Config(NGramSmoothing.KneserNey));
        var count = () => NGramCounting.CountAsync(
            Cluster[0].GrainFactory, new RunData(), "bad-parts", new RunSpec(json, Workers: 0, ParameterServers: 1), Path.Combine(directory, "m.ngram"), CancellationToken.None);
        await count.Should().ThrowAsync<ArgumentException>().WithMessage("spec.workers must be at least 1, not 0*");

        foreach (var part in new[] { -1, Parts })
        {
            var shard = () => Cluster[1].GrainFactory.GetGrain<IDataShardGrain>("bad-parts", part).CountNGrams(new RunSpec(json, Parts, 1), CancellationToken.None);
            await shard.Should().ThrowAsync<ArgumentException>().WithMessage($"data shard {part} does not exist in a run of {Parts} parts (spec.workers)*");
        }

        var neural = ConfigFile.ToJson(Config(NGramSmoothing.KneserNey) with { Model = new TransformerSection(Layers: 1, Heads: 1, Dim: 8) });
        var notNGram = () => NGramCounting.CountAsync(
            Cluster[0].GrainFactory, new RunData(), "bad-family", new RunSpec(neural, Parts, 1), Path.Combine(directory, "m.ngram"), CancellationToken.None);
        await notNGram.Should().ThrowAsync<ArgumentException>().WithMessage("spec.config: model.family is Transformer, not ngram*");
        File.Exists(Path.Combine(directory, "m.ngram")).Should().BeFalse();
    }

    private RunConfig Config(NGramSmoothing smoothing) => new(
        new DataSection(CorpusPath, TrainFraction: 0.8),
        new NGramSection(Order, smoothing, Discount: 0.6, K: 0.3));

    /// <summary>Every gram (as "id,id,...") of 1 to <see cref="Order"/> tokens that ends at a position in [from, to).</summary>
    private static Dictionary<string, long>[] CountByHand(int[] tokens, int from, int to)
    {
        var orders = Enumerable.Range(0, Order).Select(_ => new Dictionary<string, long>()).ToArray();
        for (var end = from; end < to; end++)
            for (var length = 1; length <= Order && length <= end + 1; length++)
            {
                var gram = string.Join(',', tokens[(end - length + 1)..(end + 1)]);
                orders[length - 1][gram] = orders[length - 1].GetValueOrDefault(gram) + 1;
            }
        return orders;
    }

    private static void AssertSameGrams(NGramCounts counts, Dictionary<string, long>[] expected, string because)
    {
        counts.Order.Should().Be(Order);
        for (var k = 1; k <= Order; k++)
            counts.Grams(k).ToDictionary(g => string.Join(',', g.Gram), g => g.Count)
                .Should().Equal(expected[k - 1], $"{because} (order {k})");
    }
}
