using System.Text.Json.Nodes;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

namespace OrleansLm.GpuBench;

/// <summary>The first steps' losses of <see cref="LossCheck"/>'s run; RunConfig is the run as run.yaml's JSON.</summary>
internal sealed record LossesResult(string Impl, string Device, string TorchVersion, string Data, JsonNode RunConfig, IReadOnlyList<double> Losses);

/// <summary>
/// The first steps of a small fixed Transformer run with training.device set, trained by the single-process
/// <see cref="Trainer"/> as <c>olm train</c> builds it (model seeded on the CPU, then moved; batches drawn on the CPU and
/// moved by the trainer), so that the losses on CUDA can be held against those on the CPU. Dropout is 0, precision fp32
/// and TF32 off: the devices differ only by rounding.
/// </summary>
internal static class LossCheck
{
    /// <summary>data.path of a run on <see cref="SyntheticCorpus"/>, which no file holds.</summary>
    public const string SyntheticPath = "synthetic";

    private const int SyntheticVocabulary = 64;
    private const int SyntheticLength = 20_000;

    /// <summary>The run: 2 layers, 2 heads, 64-d, block 32, batch 8, AdamW at a constant lr 1e-3, clipping at 1.</summary>
    public static RunConfig Config(string? dataPath, int steps, ulong seed) => new(
        new DataSection(dataPath ?? SyntheticPath, BlockSize: 32, BatchSize: 8, Seed: (long)seed),
        new TransformerSection(Layers: 2, Heads: 2, Dim: 64),
        new OptimizerSection(Lr: 1e-3),
        new ScheduleSection(ScheduleKind.Constant),
        new TrainingSection(Steps: steps, EvalEvery: 0, EvalBatches: 1, GradClip: 1.0, Seed: seed));

    public static LossesResult Run(Device device, RunConfig config)
    {
        config = config with { Training = config.TrainingOrDefault with { Device = device.ToString(), Tf32 = false } };
        config.Validate();
        var synthetic = config.Data.Path == SyntheticPath;
        var corpus = synthetic ? SyntheticCorpus(config.Data.Seed) : TrainingRun.LoadData(config.Data).Corpus;
        var training = config.TrainingOrDefault;

        using var model = TrainingRun.BuildModel(config, corpus.VocabularySize, TrainingDevices.Prepare(training));
        using var optimizer = config.OptimizerOrDefault.Build([.. model.Parameters()]);
        var schedule = config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, training.Steps);
        var (train, _) = TrainingRun.BatchSources(config, corpus);
        var losses = new StepLosses();
        using var trainer = new Trainer(model, optimizer, schedule, train, validation: null, training.ToOptions(null) with { ReportEvery = 1 });
        trainer.Run(losses);

        var data = synthetic
            ? $"synthetic: {SyntheticLength} tokens of a seeded random walk over {SyntheticVocabulary} tokens (each token 3t + 1 or 3t + 2 mod {SyntheticVocabulary} after t)"
            : $"{config.Data.Path}, {config.Data.Tokenizer} tokens";
        return new LossesResult("orleanslm", device.ToString(), LibTorch.Version, data, JsonNode.Parse(ConfigFile.ToJson(config))!, losses.Losses);
    }

    /// <summary>A learnable stream: each token is 3t + 1 or 3t + 2 (mod V) after t, with equal odds, so the loss falls towards ln 2.</summary>
    private static Corpus SyntheticCorpus(long seed)
    {
        var random = new Random((int)seed);
        var tokens = new int[SyntheticLength];
        for (var i = 1; i < tokens.Length; i++) tokens[i] = (3 * tokens[i - 1] + 1 + random.Next(2)) % SyntheticVocabulary;
        return new Corpus(tokens, SyntheticVocabulary);
    }

    private sealed class StepLosses : IProgress<TrainingEvent>
    {
        public List<double> Losses { get; } = [];

        public void Report(TrainingEvent value)
        {
            if (value.Kind == TrainingEventKind.Step) Losses.Add(value.Loss);
        }
    }
}
