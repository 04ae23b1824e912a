using System.Diagnostics;
using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>What a finished run reports: validation loss is the mean cross-entropy in nats per token.</summary>
public sealed record RunSummary(string Family, int VocabularySize, long Parameters, long TrainTokens, double ValidationLoss, TimeSpan Elapsed, string? Checkpoint)
{
    public double ValidationPerplexity => Math.Exp(ValidationLoss);
}

/// <summary>Runs a <see cref="RunConfig"/> end to end in this process, and loads what it wrote.</summary>
public static class TrainingRun
{
    public const string RunConfigKey = "olm.run_config";
    public const string TokenizerKey = "olm.tokenizer";

    private const int NGramCountingPiece = 1 << 20;

    /// <summary>
    /// Reads and tokenizes the corpus, builds the model, trains it (counts, for an n-gram model), evaluates
    /// on the validation split and writes the checkpoint. With <paramref name="resume"/>, a neural run
    /// continues from its checkpoint when one exists.
    /// </summary>
    public static RunSummary Execute(RunConfig config, IProgress<TrainingEvent>? progress = null, bool resume = false, CancellationToken cancellation = default)
    {
        var training = config.TrainingOrDefault;
        if (config.ModelOrDefault is NeuralModelSection) training.RequireCheckpointFile();
        if (training.Threads > 0) LibTorch.NumThreads = training.Threads;
        var clock = Stopwatch.StartNew();
        var (tokenizer, corpus) = LoadData(config.Data);

        return config.ModelOrDefault switch
        {
            NGramSection ngram => SaveNGramModel(ngram, CountNGrams(ngram, corpus, corpus.Train, cancellation), corpus, tokenizer, training.Checkpoint, clock),
            NeuralModelSection neural => TrainNeural(config, neural, corpus, tokenizer, progress, resume, clock, cancellation),
            var other => throw new ConfigException($"model.family: {other.GetType().Name} cannot be trained"),
        };
    }

    /// <summary>Reads data.path, trains the configured tokenizer on it and splits the tokens into training and validation.</summary>
    public static (ITokenizer Tokenizer, Corpus Corpus) LoadData(DataSection data)
    {
        string text;
        try
        {
            text = File.ReadAllText(data.Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException($"data.path: cannot read {data.Path}: {e.Message}", e);
        }
        var tokenizer = data.BuildTokenizer(text);
        return (tokenizer, Corpus.FromText(text, tokenizer, data.TrainFraction));
    }

    /// <summary>
    /// Held by every model build in this library (seeded or not): libtorch's RNG is process-wide, so a build on one thread
    /// must not draw between another thread's seeding and building. Code outside that seeds and builds takes it too.
    /// </summary>
    public static Lock ModelBuilding { get; } = new();

    /// <summary>
    /// The run's neural model with its initial parameters: libtorch's RNG is seeded with training.seed just before the
    /// model is built, under <see cref="ModelBuilding"/>, so every process and thread that builds it gets the same values
    /// (and, on one thread, the RNG is left where a run's first step finds it).
    /// </summary>
    public static ILanguageModel BuildModel(RunConfig config, int vocabularySize)
    {
        if (config.ModelOrDefault is not NeuralModelSection neural)
            throw new ConfigException($"model.family: {config.ModelOrDefault.GetType().Name} is not a neural model");
        lock (ModelBuilding)
        {
            LibTorch.ManualSeed(config.TrainingOrDefault.Seed);
            return neural.Build(vocabularySize, config.Data.BlockSize);
        }
    }

    /// <summary>
    /// <see cref="BuildModel(RunConfig, int)"/> moved to <paramref name="device"/>: built on the CPU, so that its initial
    /// values are the same on every device.
    /// </summary>
    public static ILanguageModel BuildModel(RunConfig config, int vocabularySize, Device device)
    {
        var model = BuildModel(config, vocabularySize);
        if (device != Device.Cpu) ((Module)model).To(device);
        return model;
    }

    /// <summary>
    /// The training and validation batches of a neural run over <paramref name="corpus"/>: random windows, or contiguous
    /// streams for a recurrent model with truncated BPTT.
    /// </summary>
    public static (IBatchSource Train, IBatchSource Validation) BatchSources(RunConfig config, Corpus corpus)
    {
        var data = config.Data;
        var streams = config.ModelOrDefault is RecurrentSection { Tbptt: true };
        return (Batches(corpus.Train, "training", data, data.Seed, streams), Batches(corpus.Validation, "validation", data, data.Seed + 1, streams));
    }

    /// <summary>
    /// A model with its tokenizer from a file that <c>olm train</c> or a run's export wrote: a neural <see cref="ModelFile"/>
    /// (the model in eval mode, with the run configuration stored in it) or an n-gram model file, told apart by its header, with its
    /// <see cref="TokenizerSidecar"/>. An n-gram file stores no run configuration, so Config is null for it.
    /// </summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is corrupt or not from <c>olm train</c> (or a run's export), or an n-gram model's tokenizer is missing or corrupt.</exception>
    public static (ILanguageModel Model, ITokenizer Tokenizer, RunConfig? Config) LoadForInference(string checkpoint) =>
        NGramFile.StartsWithMagic(checkpoint) ? LoadNGram(checkpoint) : ModelFile.Read(checkpoint);

    /// <summary>
    /// The n-grams of <paramref name="section"/>'s order that end inside <paramref name="slice"/> of <paramref name="corpus"/>,
    /// with the corpus before the slice as their history: the counts of a split's contiguous shards merge into the split's counts.
    /// </summary>
    public static NGramCounts CountNGrams(NGramSection section, Corpus corpus, TokenSlice slice, CancellationToken cancellation = default)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(slice);
        var counts = new NGramCounts(section.Order, corpus.VocabularySize);
        // Counted in pieces, so that a cancelled run stops within one piece rather than after the whole slice.
        var pieces = Math.Max(1, slice.Length / NGramCountingPiece);
        for (var piece = 0; piece < pieces; piece++)
        {
            cancellation.ThrowIfCancellationRequested();
            counts.Add(slice.Shard(pieces, piece));
        }
        return counts;
    }

    /// <summary>
    /// Builds the n-gram model from <paramref name="counts"/> of <paramref name="corpus"/>'s training split with the section's
    /// smoothing, evaluates it on the validation split and, with a <paramref name="checkpoint"/>, writes it there with its
    /// <see cref="TokenizerSidecar"/>: what <see cref="LoadForInference"/> loads. <paramref name="clock"/> runs since the run began.
    /// </summary>
    /// <exception cref="ArgumentException">The counts are not of the section's order, the corpus's vocabulary, or every training token.</exception>
    public static RunSummary SaveNGramModel(NGramSection section, NGramCounts counts, Corpus corpus, ITokenizer tokenizer, string? checkpoint, Stopwatch clock)
    {
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(counts);
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(clock);
        if (counts.Order != section.Order || counts.VocabularySize != corpus.VocabularySize)
            throw new ArgumentException(
                $"counts of order {counts.Order} over {counts.VocabularySize} tokens do not fit model.order {section.Order} over the corpus's {corpus.VocabularySize}", nameof(counts));
        // Every training token ends exactly one unigram: merged shards that missed or repeated a part show here.
        var counted = counts.Tokens;
        if (counted != corpus.Train.Length)
            throw new ArgumentException($"the counts hold {counted} tokens but the training split has {corpus.Train.Length}", nameof(counts));

        var model = section.Build(counts);
        var validationLoss = model.CrossEntropy(corpus.Validation.Tokens);
        if (checkpoint is not null)
        {
            // Tokenizer first: a new model file never appears without its tokenizer beside it.
            tokenizer.Save(TokenizerSidecar(checkpoint));
            model.Save(checkpoint);
        }
        return new RunSummary("NGram", corpus.VocabularySize, model.DistinctGrams, corpus.Train.Length, validationLoss, clock.Elapsed, checkpoint);
    }

    /// <summary>Where <c>olm train</c> writes an n-gram model's tokenizer: beside the model, whose file format has no room for it.</summary>
    public static string TokenizerSidecar(string checkpoint) => checkpoint + ".tokenizer.json";

    private static (ILanguageModel Model, ITokenizer Tokenizer, RunConfig? Config) LoadNGram(string checkpoint)
    {
        var sidecar = TokenizerSidecar(checkpoint);
        if (!File.Exists(sidecar))
            throw new InvalidDataException($"{checkpoint} is an n-gram model but its tokenizer {sidecar} does not exist (`olm train` writes both)");
        var model = NGramLm.Load(checkpoint);
        ITokenizer tokenizer;
        try
        {
            tokenizer = ITokenizer.Load(sidecar);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{sidecar}: {e.Message}", e);
        }
        if (tokenizer.VocabularySize != model.VocabularySize)
            throw new InvalidDataException($"{sidecar} has {tokenizer.VocabularySize} tokens but the n-gram model {checkpoint} has {model.VocabularySize}");
        return (new NGramLanguageModel(model), tokenizer, null);
    }

    private static RunSummary TrainNeural(RunConfig config, NeuralModelSection section, Corpus corpus, ITokenizer tokenizer,
        IProgress<TrainingEvent>? progress, bool resume, Stopwatch clock, CancellationToken cancellation)
    {
        var training = config.TrainingOrDefault;
        using var model = BuildModel(config, corpus.VocabularySize, TrainingDevices.Prepare(training));
        using var optimizer = config.OptimizerOrDefault.Build([.. model.Parameters()]);
        var schedule = config.ScheduleOrDefault.Build(config.OptimizerOrDefault.Lr, training.Steps);
        var metadata = ModelFile.Metadata(config, tokenizer);
        var (train, validation) = BatchSources(config, corpus);
        using var trainer = new Trainer(model, optimizer, schedule, train, validation, training.ToOptions(metadata));
        if (resume && training.Checkpoint is { } existing && File.Exists(existing)) trainer.LoadCheckpoint(existing);

        var validationLoss = trainer.Run(progress, cancellation);
        if (training.Checkpoint is { } path) trainer.SaveCheckpoint(path, metadata);
        return new RunSummary(section.GetType().Name.Replace("Section", ""), corpus.VocabularySize, model.ParameterCount,
            corpus.Train.Length, validationLoss, clock.Elapsed, training.Checkpoint);
    }

    /// <summary>Random windows of the split, or its contiguous streams for truncated BPTT.</summary>
    private static IBatchSource Batches(TokenSlice slice, string split, DataSection data, long seed, bool streams)
    {
        if (streams)
        {
            var needed = (long)data.BatchSize * data.BlockSize + 1;
            if (slice.Length < needed)
                throw new ConfigException(
                    $"data.block_size: the {split} split has {slice.Length} tokens; batch_size streams of block_size tokens need {needed}");
            return new StreamBatches(new TokenStreams(slice, data.BatchSize, data.BlockSize));
        }
        if (slice.Length <= data.BlockSize)
            throw new ConfigException($"data.block_size: the {split} split has {slice.Length} tokens; a window needs block_size + 1 = {data.BlockSize + 1}");
        return new WindowBatches(new WindowSampler(slice, data.BlockSize, seed), data.BatchSize);
    }
}
