using System.Text.Json.Serialization;
using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Text;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>
/// A training run as written in run.yaml (snake_case): data, model, optimizer, schedule and training
/// sections. Everything but the data path has a default: nanoGPT's CPU recipe.
/// </summary>
public sealed record RunConfig(
    DataSection Data,
    ModelSection? Model = null,
    OptimizerSection? Optimizer = null,
    ScheduleSection? Schedule = null,
    TrainingSection? Training = null) : IValidatableConfig
{
    [JsonIgnore]
    public ModelSection ModelOrDefault => Model ?? new TransformerSection();

    [JsonIgnore]
    public OptimizerSection OptimizerOrDefault => Optimizer ?? new OptimizerSection();

    [JsonIgnore]
    public ScheduleSection ScheduleOrDefault => Schedule ?? new ScheduleSection();

    [JsonIgnore]
    public TrainingSection TrainingOrDefault => Training ?? new TrainingSection();

    public void Validate()
    {
        Data.Validate();
        ModelOrDefault.Validate();
        OptimizerOrDefault.Validate();
        ScheduleOrDefault.Validate(TrainingOrDefault.Steps);
        TrainingOrDefault.Validate();
    }
}

public enum TokenizerKind { Char, Word, ByteBpe }

public sealed record DataSection(
    string Path,
    TokenizerKind Tokenizer = TokenizerKind.Char,
    int VocabSize = 512,
    int MinCount = 1,
    double TrainFraction = Corpus.DefaultTrainFraction,
    int BlockSize = 64,
    int BatchSize = 12,
    long Seed = 1337)
{
    public void Validate()
    {
        ConfigFile.Require(!string.IsNullOrWhiteSpace(Path), "data.path", "is required");
        ConfigFile.Require(VocabSize >= 257 || Tokenizer != TokenizerKind.ByteBpe, "data.vocab_size", $"must be above 256 for byte_bpe, got {VocabSize}");
        ConfigFile.Require(MinCount >= 1, "data.min_count", $"must be at least 1, got {MinCount}");
        ConfigFile.Require(TrainFraction is > 0 and < 1, "data.train_fraction", $"must be in (0, 1), got {TrainFraction}");
        ConfigFile.Require(BlockSize >= 1, "data.block_size", $"must be at least 1, got {BlockSize}");
        ConfigFile.Require(BatchSize >= 1, "data.batch_size", $"must be at least 1, got {BatchSize}");
    }

    /// <summary>Trains the configured tokenizer on <paramref name="text"/>.</summary>
    public ITokenizer BuildTokenizer(string text) => Tokenizer switch
    {
        TokenizerKind.Char => CharTokenizer.FromCorpus(text),
        TokenizerKind.Word => WordTokenizer.FromCorpus(text, MinCount),
        TokenizerKind.ByteBpe => ByteBpeTokenizer.Train(text, VocabSize),
        _ => throw new ConfigException($"data.tokenizer: unknown tokenizer {Tokenizer}"),
    };
}

/// <summary>The model family and its shape; <c>family</c> selects which fields are allowed.</summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "family", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization)]
[JsonDerivedType(typeof(TransformerSection), "transformer")]
[JsonDerivedType(typeof(FixedWindowSection), "fixed_window")]
[JsonDerivedType(typeof(RecurrentSection), "rnn")]
[JsonDerivedType(typeof(NGramSection), "ngram")]
public abstract record ModelSection
{
    public abstract void Validate();
}

/// <summary>A neural family: builds an <see cref="ILanguageModel"/> for a vocabulary and block size.</summary>
public abstract record NeuralModelSection : ModelSection
{
    public abstract ILanguageModel Build(int vocabularySize, int blockSize);

    public override void Validate()
    {
        try
        {
            // The probe draws its initial values from libtorch's process-wide generator: under the lock, so that it
            // never draws in the middle of another thread's seeded build (which would then start from other values).
            lock (TrainingRun.ModelBuilding)
            {
                using var probe = LibTorch.NoGrad();
                Build(vocabularySize: 2, blockSize: 1).Dispose();
            }
        }
        catch (ArgumentException e)
        {
            throw new ConfigException($"model: {e.Message}", e);
        }
    }
}

public sealed record TransformerSection(
    int Layers = 4,
    int Heads = 4,
    int Dim = 128,
    double Dropout = 0,
    PositionEncoding Positions = PositionEncoding.Learned,
    NormPlacement Norm = NormPlacement.PreNorm,
    bool Tied = true,
    bool Bias = true) : NeuralModelSection
{
    public override ILanguageModel Build(int vocabularySize, int blockSize) =>
        new TransformerLm(new TransformerConfig(vocabularySize, blockSize, Layers, Heads, Dim, Dropout, Bias, Positions, Norm, Tied));
}

public sealed record FixedWindowSection(int Context = 3, int Embedding = 32, int Hidden = 128, string Activation = "tanh") : NeuralModelSection
{
    public override ILanguageModel Build(int vocabularySize, int blockSize) => new FixedWindowLm(new FixedWindowLmConfig
    {
        VocabularySize = vocabularySize, ContextSize = Context, EmbeddingSize = Embedding, HiddenSize = Hidden, Activation = Activation,
    });
}

/// <summary>An Elman, LSTM or GRU language model.</summary>
/// <param name="Tbptt">
/// Train on contiguous streams, carrying the hidden state across segments of data.block_size tokens (truncated BPTT);
/// false draws random windows, each from a zero state, as the other families do.
/// </param>
public sealed record RecurrentSection(
    string Cell = "lstm",
    int Embedding = 64,
    int Hidden = 256,
    int Layers = 2,
    double Dropout = 0,
    bool TieWeights = false,
    bool FusedKernels = true,
    bool Tbptt = true) : NeuralModelSection
{
    public override ILanguageModel Build(int vocabularySize, int blockSize) => new RnnLm(new RnnLmConfig
    {
        VocabularySize = vocabularySize, Cell = Cell, EmbeddingSize = Embedding, HiddenSize = Hidden, NumLayers = Layers,
        Dropout = Dropout, TieWeights = TieWeights, UseFusedKernels = FusedKernels,
    });
}

public sealed record NGramSection(int Order = 5, NGramSmoothing Smoothing = NGramSmoothing.KneserNey, double Discount = 0.75, double K = 1) : ModelSection
{
    public override void Validate()
    {
        ConfigFile.Require(Order is >= 1 and <= NGramCounts.MaxOrder, "model.order", $"must be in 1..{NGramCounts.MaxOrder}, got {Order}");
        ConfigFile.Require(Discount is > 0 and < 1, "model.discount", $"must be in (0, 1), got {Discount}");
        ConfigFile.Require(K > 0, "model.k", $"must be positive, got {K}");
    }

    public NGramLm Build(NGramCounts counts) => Smoothing switch
    {
        NGramSmoothing.KneserNey => NGramLm.KneserNey(counts, Discount),
        NGramSmoothing.AddK => NGramLm.AddK(counts, K),
        _ => NGramLm.MaximumLikelihood(counts),
    };
}

public enum OptimizerKind { Adamw, Adam, Sgd, Adagrad, Rmsprop }

public sealed record OptimizerSection(
    OptimizerKind Name = OptimizerKind.Adamw,
    double Lr = 1e-3,
    double Beta1 = 0.9,
    double Beta2 = 0.99,
    double Eps = 1e-8,
    double WeightDecay = 0.1,
    bool DecayMatricesOnly = true,
    bool Amsgrad = false,
    double Momentum = 0,
    double Dampening = 0,
    bool Nesterov = false,
    double Alpha = 0.99,
    bool Centered = false)
{
    public void Validate()
    {
        try
        {
            using var probe = Tensor.Zeros([1], requiresGrad: true);
            Build([probe]).Dispose();
        }
        catch (ArgumentException e)
        {
            throw new ConfigException($"optimizer: {e.Message}", e);
        }
    }

    /// <summary>The optimizer over <paramref name="parameters"/>; with decay_matrices_only, vectors (biases, norms) are not decayed.</summary>
    public Optimizer Build(IReadOnlyList<Tensor> parameters) => Build(parameters, [.. parameters.Select(p => p.Dim)]);

    /// <summary>
    /// The optimizer over <paramref name="parameters"/> whose decay_matrices_only grouping goes by <paramref name="ranks"/>
    /// instead of the tensors' own: a parameter-server shard optimizes 1-D segments of flattened parameters, and each
    /// segment must be decayed as the parameter it was cut from.
    /// </summary>
    public Optimizer Build(IReadOnlyList<Tensor> parameters, IReadOnlyList<long> ranks)
    {
        if (ranks.Count != parameters.Count)
            throw new ArgumentException($"got {ranks.Count} ranks for {parameters.Count} parameters", nameof(ranks));
        var isMatrix = ranks.Select(rank => rank >= 2).ToList();
        IEnumerable<ParameterGroup> groups = DecayMatricesOnly
            ? [new ParameterGroup(parameters.Where((_, i) => isMatrix[i]).ToList()), new ParameterGroup(parameters.Where((_, i) => !isMatrix[i]).ToList(), WeightDecay: 0)]
            : [new ParameterGroup(parameters)];
        groups = groups.Where(g => g.Parameters.Any()).ToList();
        return Name switch
        {
            OptimizerKind.Adamw => new AdamW(groups, new AdamWOptions { LearningRate = Lr, Beta1 = Beta1, Beta2 = Beta2, Eps = Eps, WeightDecay = WeightDecay, Amsgrad = Amsgrad }),
            OptimizerKind.Adam => new Adam(groups, new AdamOptions { LearningRate = Lr, Beta1 = Beta1, Beta2 = Beta2, Eps = Eps, WeightDecay = WeightDecay, Amsgrad = Amsgrad }),
            OptimizerKind.Sgd => new Sgd(groups, new SgdOptions { LearningRate = Lr, Momentum = Momentum, Dampening = Dampening, Nesterov = Nesterov, WeightDecay = WeightDecay }),
            OptimizerKind.Adagrad => new Adagrad(groups, new AdagradOptions { LearningRate = Lr, Eps = Eps, WeightDecay = WeightDecay }),
            OptimizerKind.Rmsprop => new RmsProp(groups, new RmsPropOptions { LearningRate = Lr, Alpha = Alpha, Eps = Eps, WeightDecay = WeightDecay, Momentum = Momentum, Centered = Centered }),
            _ => throw new ConfigException($"optimizer.name: unknown optimizer {Name}"),
        };
    }
}

public enum ScheduleKind { WarmupCosine, Constant, Step }

public sealed record ScheduleSection(
    ScheduleKind Kind = ScheduleKind.WarmupCosine,
    long Warmup = 100,
    double MinLr = 1e-4,
    long? DecaySteps = null,
    long StepSize = 1000,
    double Gamma = 0.1)
{
    public void Validate(long trainingSteps)
    {
        ConfigFile.Require(Warmup >= 0, "schedule.warmup", $"must be non-negative, got {Warmup}");
        ConfigFile.Require(MinLr >= 0, "schedule.min_lr", $"must be non-negative, got {MinLr}");
        ConfigFile.Require(Kind != ScheduleKind.WarmupCosine || (DecaySteps ?? trainingSteps) > Warmup, "schedule.decay_steps",
            $"must exceed schedule.warmup ({Warmup}); it defaults to training.steps");
        ConfigFile.Require(StepSize >= 1, "schedule.step_size", $"must be at least 1, got {StepSize}");
        ConfigFile.Require(Gamma >= 0, "schedule.gamma", $"must be non-negative, got {Gamma}");
    }

    public ILearningRateSchedule Build(double learningRate, long trainingSteps) => Kind switch
    {
        ScheduleKind.Constant => new ConstantSchedule(learningRate),
        ScheduleKind.Step => new StepSchedule(learningRate, StepSize, Gamma),
        _ => new WarmupCosineSchedule(learningRate, Math.Min(MinLr, learningRate), Warmup, DecaySteps ?? trainingSteps),
    };
}

public sealed record TrainingSection(
    long Steps = 2000,
    double MaxSeconds = 0,
    int EvalEvery = 200,
    int EvalBatches = 200,
    double GradClip = 1.0,
    int GradAccumulation = 1,
    NonFinitePolicy OnNonFinite = NonFinitePolicy.Stop,
    int Threads = 0,
    ulong Seed = 1337,
    string? Checkpoint = null,
    int CheckpointEvery = 0,
    string Device = "cpu",
    Precision Precision = Precision.Fp32,
    bool Tf32 = false)
{
    public void Validate()
    {
        TrainingDevices.Parse(Device);
        ConfigFile.Require(Threads >= 0, "training.threads", $"must be non-negative, got {Threads}");
        ConfigFile.Require(MaxSeconds >= 0 && double.IsFinite(MaxSeconds), "training.max_seconds", $"must be a non-negative number of seconds (0 = no limit), got {MaxSeconds}");
        ConfigFile.Require(CheckpointEvery >= 0, "training.checkpoint_every", $"must be non-negative, got {CheckpointEvery}");
        // Whether checkpoint_every needs training.checkpoint depends on who runs it: olm train writes its checkpoints
        // there (RequireCheckpointFile), a cluster run into its own checkpoint directory.
        (ToOptions(null) with { CheckpointEvery = 0 }).Validate();
    }

    /// <summary>What the single-process trainer needs on top: a file for the checkpoints checkpoint_every asks for.</summary>
    public void RequireCheckpointFile() =>
        ConfigFile.Require(CheckpointEvery == 0 || !string.IsNullOrWhiteSpace(Checkpoint), "training.checkpoint", "is required when training.checkpoint_every > 0");

    public TrainerOptions ToOptions(IReadOnlyDictionary<string, string>? checkpointMetadata) => new()
    {
        MaxSteps = Steps, MaxDuration = MaxSeconds > 0 ? TimeSpan.FromSeconds(MaxSeconds) : null, EvalEvery = EvalEvery, EvalBatches = EvalBatches, GradientClip = GradClip,
        GradientAccumulation = GradAccumulation, OnNonFinite = OnNonFinite, CheckpointPath = Checkpoint,
        CheckpointEvery = CheckpointEvery, CheckpointMetadata = checkpointMetadata, Precision = Precision,
    };
}
