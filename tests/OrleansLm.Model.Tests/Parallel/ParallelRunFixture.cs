using OrleansLm.Model.Tests.Training;
using OrleansLm.Model.Text;
using OrleansLm.Model.Training;

namespace OrleansLm.Model.Tests.Parallel;

/// <summary>A small corpus on disk and tiny run configurations over it, with the single-process reference trajectory.</summary>
internal sealed class ParallelRunFixture : IDisposable
{
    public const string Transformer = "family: transformer\n  layers: 1\n  heads: 2\n  dim: 16";
    public const string Lstm = "family: rnn\n  cell: lstm\n  embedding: 16\n  hidden: 32\n  layers: 1";

    public static string AdamW(double lr) => FormattableString.Invariant($"name: adamw\n  lr: {lr}\n  weight_decay: 0.1\n  decay_matrices_only: true");

    public static string SgdNesterov(double lr) => FormattableString.Invariant($"name: sgd\n  lr: {lr}\n  momentum: 0.9\n  nesterov: true\n  weight_decay: 1.0e-3");

    /// <summary>The batch every configuration uses: it splits into 2 and into 3 equal parts.</summary>
    public const int BatchSize = 6;

    private readonly string path = Directory.CreateTempSubdirectory("olm-parallel-").FullName;

    public ParallelRunFixture()
    {
        var corpusFile = System.IO.Path.Combine(path, "corpus.txt");
        File.WriteAllText(corpusFile, string.Concat(Enumerable.Repeat("the cat sat on the mat. the dog sat on the log. ", 60)));
        CorpusFile = corpusFile;
    }

    public string Path => path;

    public string CorpusFile { get; }

    /// <summary>
    /// A run with clipping at 0.5 (active on many of the first steps) and a warm-up, so every step's learning rate
    /// differs. With block_size 16, the LSTM's 6 training streams wrap after 26 segments: 50 steps cross a pass.
    /// </summary>
    /// <param name="precision">training.precision: fp32 or bf16.</param>
    public RunConfig Config(string model, string optimizer, int steps = 50, double clip = 0.5, string precision = "fp32") => ConfigFile.Parse<RunConfig>($"""
        data:
          path: {CorpusFile}
          block_size: 16
          batch_size: {BatchSize}
        model:
          {model}
        optimizer:
          {optimizer}
        schedule:
          warmup: 5
          min_lr: 1.0e-3
        training:
          steps: {steps}
          grad_clip: {clip}
          seed: 7
          precision: {precision}
        """);

    public static Corpus Corpus(RunConfig config) => TrainingRun.LoadData(config.Data).Corpus;

    /// <summary>The single-process <see cref="Trainer"/>'s loss at every step, built from the config as <c>olm train</c> builds it.</summary>
    public static List<double> ReferenceLosses(RunConfig config, Corpus corpus)
    {
        using var model = TrainingRun.BuildModel(config, corpus.VocabularySize);
        using var optimizer = config.OptimizerOrDefault.Build([.. model.Parameters()]);
        var schedule = config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, config.TrainingOrDefault.Steps);
        using var trainer = new Trainer(model, optimizer, schedule, TrainingRun.BatchSources(config, corpus).Train, null,
            config.TrainingOrDefault.ToOptions(null) with { ReportEvery = 1 });
        var losses = new List<double>();
        trainer.Run(new ListProgress(losses));
        return losses;
    }

    public void Dispose() => Directory.Delete(path, recursive: true);
}
