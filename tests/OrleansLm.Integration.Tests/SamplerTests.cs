using OrleansLm.Model.Decoding;
using OrleansLm.Model.Models;
using OrleansLm.Model.Training;
using OrleansLm.Model.Training.Parallel;
using OrleansLm.Silo.Grains;

namespace OrleansLm.Integration.Tests;

/// <summary>
/// The sampler grains and a cluster run's export on two silos in this process, against the model library's own
/// decoding of the same files.
/// </summary>
public sealed class SamplerTests : IAsyncLifetime
{
    private const string Text = "to be, or not to be, that is the question: whether 'tis nobler in the mind to suffer the slings and arrows ";
    private const string Prompt = "to be";

    private readonly string directory = Directory.CreateTempSubdirectory("olm-sampler-").FullName;
    private InProcessCluster? cluster;

    private InProcessCluster Cluster => cluster ?? throw new InvalidOperationException("the cluster has not started");

    private string CorpusPath => Path.Combine(directory, "corpus.txt");

    public async Task InitializeAsync()
    {
        await File.WriteAllTextAsync(CorpusPath, string.Concat(Enumerable.Repeat(Text, 40)));
        cluster = await InProcessCluster.StartAsync("sampling", [InProcessCluster.Worker, InProcessCluster.Worker]);
    }

    public async Task DisposeAsync()
    {
        if (cluster is not null) await cluster.DisposeAsync();
        Directory.Delete(directory, recursive: true);
    }

    [Fact]
    public async Task ASingleProcessCheckpointSamplesAndScoresThroughTheGrainAsTheModelLibraryDoes()
    {
        var checkpoint = TrainCheckpoint("single.safetensors", steps: 40, seed: 11);
        var sampler = Cluster[0].GrainFactory.GetGrain<ISamplerGrain>(checkpoint);

        var greedy = await sampler.Sample(new SampleRequest(Prompt, MaxNewTokens: 30));
        var sampled = await sampler.Sample(new SampleRequest(Prompt, MaxNewTokens: 30, DecodingMethod.Sampling, Temperature: 0.8, TopK: 5, TopP: 0.9, Seed: 4));
        var beam = await sampler.Sample(new SampleRequest(Prompt, MaxNewTokens: 12, DecodingMethod.BeamSearch, BeamWidth: 3));
        var score = await sampler.Score(Text);

        var (model, tokenizer, _) = TrainingRun.LoadForInference(checkpoint);
        using (model)
        {
            var prompt = tokenizer.Encode(Prompt);
            var expectedGreedy = Generator.Generate(model, prompt, new SamplingOptions { MaxNewTokens = 30, Temperature = 0 })[0];
            greedy.Tokens.Should().Equal(expectedGreedy.Tokens).And.HaveCount(30);
            greedy.Text.Should().Be(tokenizer.Decode(expectedGreedy.Tokens));
            greedy.FinishReason.Should().Be("length");

            var expectedSample = Generator.Generate(model, prompt, new SamplingOptions { MaxNewTokens = 30, Temperature = 0.8, TopK = 5, TopP = 0.9, Seed = 4 })[0];
            sampled.Tokens.Should().Equal(expectedSample.Tokens);
            sampled.LogProbs.Should().Equal(expectedSample.LogProbs);

            var expectedBeam = BeamSearch.Search(model, prompt, new BeamSearchOptions { BeamWidth = 3, MaxNewTokens = 12 })[0];
            beam.Tokens.Should().Equal(expectedBeam.Tokens);
            beam.FinishReason.Should().Be("beam");

            var expectedScore = Scorer.Score(model, tokenizer.Encode(Text));
            score.Tokens.Should().Be(tokenizer.Encode(Text).Length - 1);
            score.AverageSurprisal.Should().Be(expectedScore.AverageSurprisal);
            score.AverageSurprisalBits.Should().BeApproximately(expectedScore.AverageSurprisal / Math.Log(2), 1e-12);
            score.Perplexity.Should().BeApproximately(Math.Exp(expectedScore.AverageSurprisal), 1e-9);
            score.AverageSurprisal.Should().BeLessThan(Math.Log(tokenizer.VocabularySize), "40 steps learn something of a repeated line");
        }
    }

    [Fact]
    public async Task AnNGramModelFileSamplesAndScoresThroughTheGrain()
    {
        var checkpoint = Path.Combine(directory, "trigram.ngram");
        TrainingRun.Execute(Config(steps: 1, seed: 1, checkpoint) with { Model = new NGramSection(Order: 3) });
        var sampler = Cluster[0].GrainFactory.GetGrain<ISamplerGrain>(checkpoint);

        var greedy = await sampler.Sample(new SampleRequest(Prompt, MaxNewTokens: 20));
        var score = await sampler.Score(Text);

        var (model, tokenizer, _) = TrainingRun.LoadForInference(checkpoint);
        using (model)
        {
            model.Should().BeOfType<NGramLanguageModel>();
            greedy.Tokens.Should().Equal(Generator.Generate(model, tokenizer.Encode(Prompt), new SamplingOptions { MaxNewTokens = 20, Temperature = 0 })[0].Tokens);
            score.AverageSurprisal.Should().Be(Scorer.Score(model, tokenizer.Encode(Text)).AverageSurprisal);
        }
    }

    [Fact]
    public async Task AClusterRunsExportHoldsItsShardsParametersAndValidationLossAndItsRunSamplerSamplesFromIt()
    {
        var config = Config(steps: 6, seed: 5, checkpoint: null);
        var runDirectory = Path.Combine(directory, "run");
        var run = Cluster[0].GrainFactory.GetGrain<ITrainingRunGrain>("exported");
        await run.Start(new RunSpec(ConfigFile.ToJson(config), Workers: 2, ParameterServers: 2, runDirectory));
        var status = await run.WaitForEnd(TimeSpan.FromMinutes(3));
        status.Error.Should().BeNull();
        status.State.Should().Be(RunState.Completed);

        var path = await run.Export(null);

        path.Should().Be(Path.Combine(runDirectory, "model.safetensors"));
        var shards = await Task.WhenAll(Enumerable.Range(0, 2).Select(k => Cluster[1].GrainFactory.GetGrain<IParameterServerGrain>("exported", k).Pull()));
        var (model, tokenizer, loadedConfig) = TrainingRun.LoadForInference(path);
        using (model)
        {
            ParameterLayout.Of(model).Flatten(model).Should().Equal(shards.SelectMany(s => s), "the export holds the shards' values, in order");
            ConfigFile.ToJson(loadedConfig).Should().Be(ConfigFile.ToJson(config));
            ValidationLoss(model, config).Should().BeApproximately(status.ValidationLoss, 1e-9 * status.ValidationLoss,
                "the run's worker evaluated these parameters on the same validation batches");

            var sampler = Cluster[1].GrainFactory.GetGrain<ISamplerGrain>(SamplerKey.ForRun("exported"));
            var sample = await sampler.Sample(new SampleRequest(Prompt, MaxNewTokens: 20));
            var expected = Generator.Generate(model, tokenizer.Encode(Prompt), new SamplingOptions { MaxNewTokens = 20, Temperature = 0 })[0];
            sample.Tokens.Should().Equal(expected.Tokens);
            sample.Text.Should().Be(tokenizer.Decode(expected.Tokens));
        }

        var elsewhere = Path.Combine(directory, "elsewhere", "export.safetensors");
        (await run.Export(elsewhere)).Should().Be(elsewhere);
        (await File.ReadAllBytesAsync(elsewhere)).Should().Equal(await File.ReadAllBytesAsync(path), "the parameters have not changed since");
    }

    [Fact]
    public async Task RefreshReloadsTheCheckpointInEveryActivationOfTheKeyOnTheSilo()
    {
        var checkpoint = TrainCheckpoint("refreshed.safetensors", steps: 3, seed: 1);
        var first = GreedyDecode(checkpoint);
        var sampler = Cluster[0].GrainFactory.GetGrain<ISamplerGrain>(checkpoint);
        var request = new SampleRequest(Prompt, MaxNewTokens: 16);
        // Concurrent calls grow the silo's pool of activations for the key beyond one.
        (await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => sampler.Sample(request)))).Should().OnlyContain(c => c.Tokens.SequenceEqual(first));

        TrainCheckpoint("refreshed.safetensors", steps: 40, seed: 2);
        var second = GreedyDecode(checkpoint);
        second.Should().NotEqual(first, "the two checkpoints decode differently, so the test can tell them apart");
        (await sampler.Sample(request)).Tokens.Should().Equal(first, "a sampler keeps the model it loaded until refreshed");

        await sampler.Refresh();

        (await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => sampler.Sample(request)))).Should().OnlyContain(c => c.Tokens.SequenceEqual(second));
    }

    [Fact]
    public async Task BadRequestsAreRefusedNamingTheirField()
    {
        var checkpoint = TrainCheckpoint("bad-input.safetensors", steps: 4, seed: 3);
        var sampler = Cluster[0].GrainFactory.GetGrain<ISamplerGrain>(checkpoint);

        await Refused<ArgumentException>(sampler.Sample(new SampleRequest("")), "*prompt needs at least 1 token*");
        await Refused<ArgumentException>(sampler.Sample(new SampleRequest("to #")), "character '#'*not in the vocabulary*prompt*");
        await Refused<ArgumentException>(sampler.Sample(new SampleRequest(Prompt, MaxNewTokens: 0)), "*MaxNewTokens*");
        await Refused<ArgumentException>(sampler.Sample(new SampleRequest(Prompt, MaxNewTokens: -3, DecodingMethod.BeamSearch)), "*MaxNewTokens*");
        await Refused<ArgumentException>(sampler.Sample(new SampleRequest(Prompt, Decoding: DecodingMethod.Sampling, Temperature: 0)), "Temperature must be > 0*");
        await Refused<ArgumentException>(sampler.Sample(new SampleRequest(Prompt, Decoding: DecodingMethod.Sampling, Temperature: -1)), "Temperature must be > 0*");
        await Refused<ArgumentException>(sampler.Sample(new SampleRequest(Prompt, Decoding: DecodingMethod.Sampling, TopP: 0)), "top_p must lie in (0, 1]*TopP*");
        await Refused<ArgumentException>(sampler.Sample(new SampleRequest(Prompt, Decoding: DecodingMethod.Sampling, TopP: 1.5)), "top_p must lie in (0, 1]*TopP*");
        await Refused<ArgumentException>(sampler.Sample(new SampleRequest(Prompt, Decoding: DecodingMethod.BeamSearch, BeamWidth: 0)), "*BeamWidth*");
        await Refused<ArgumentException>(sampler.Score("t"), "the text needs at least two tokens to score, it has 1*text*");
        (await sampler.Sample(new SampleRequest(Prompt, MaxNewTokens: 2))).Tokens.Should().HaveCount(2, "refused requests leave the sampler serving");

        var missing = Path.Combine(directory, "missing.safetensors");
        await Refused<ArgumentException>(Sampler(missing).Sample(new SampleRequest(Prompt)), $"sampler key: checkpoint {missing} does not exist*");
        var corrupt = Path.Combine(directory, "corrupt.safetensors");
        await File.WriteAllBytesAsync(corrupt, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
        await Refused<InvalidDataException>(Sampler(corrupt).Score(Text), $"*{corrupt}*");
        await Refused<ArgumentException>(Sampler("run:").Sample(new SampleRequest(Prompt)), "sampler key 'run:' names no run*");
        await Refused<InvalidOperationException>(Sampler(SamplerKey.ForRun("never-started")).Sample(new SampleRequest(Prompt)), "run never-started was never started*");
    }

    private ISamplerGrain Sampler(string key) => Cluster[0].GrainFactory.GetGrain<ISamplerGrain>(key);

    private static async Task Refused<TException>(Task call, string message) where TException : Exception
    {
        var refused = async () => await call;
        await refused.Should().ThrowAsync<TException>().WithMessage(message);
    }

    /// <summary>A checkpoint of the single-process trainer in this test's directory; returns its path.</summary>
    private string TrainCheckpoint(string name, long steps, ulong seed)
    {
        var checkpoint = Path.Combine(directory, name);
        TrainingRun.Execute(Config(steps, seed, checkpoint));
        return checkpoint;
    }

    private static IReadOnlyList<int> GreedyDecode(string checkpoint)
    {
        var (model, tokenizer, _) = TrainingRun.LoadForInference(checkpoint);
        using (model)
            return Generator.Generate(model, tokenizer.Encode(Prompt), new SamplingOptions { MaxNewTokens = 16, Temperature = 0 })[0].Tokens;
    }

    /// <summary>The single-process trainer's validation loss of <paramref name="model"/> over the run's validation batches.</summary>
    private static double ValidationLoss(ILanguageModel model, RunConfig config)
    {
        var (_, corpus) = TrainingRun.LoadData(config.Data);
        var (train, validation) = TrainingRun.BatchSources(config, corpus);
        var training = config.TrainingOrDefault;
        using var optimizer = config.OptimizerOrDefault.Build([.. model.Parameters()]);
        using var trainer = new Trainer(model, optimizer, config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, training.Steps), train, validation,
            training.ToOptions(null));
        return trainer.Evaluate(validation, training.EvalBatches);
    }

    private RunConfig Config(long steps, ulong seed, string? checkpoint) => new(
        new DataSection(CorpusPath, BlockSize: 8, BatchSize: 4, Seed: 7),
        new TransformerSection(Layers: 1, Heads: 2, Dim: 16),
        new OptimizerSection(Lr: 1e-2),
        new ScheduleSection(Warmup: 2),
        new TrainingSection(Steps: steps, EvalEvery: 0, EvalBatches: 2, GradClip: 0.5, Seed: seed, Checkpoint: checkpoint));
}
