using System.Diagnostics;
using OrleansLm.Model.Models;
using OrleansLm.Model.Nn;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Training;

/// <summary>What to do when a step's loss or gradient norm is NaN or infinite.</summary>
public enum NonFinitePolicy
{
    /// <summary>Stop the run with <see cref="TrainingDivergedException"/>; the model keeps its last good parameters.</summary>
    Stop,

    /// <summary>Drop the step's gradient, leave the parameters unchanged and go on with the next batch.</summary>
    Skip,
}

public sealed record TrainerOptions
{
    public long MaxSteps { get; init; } = 1000;

    /// <summary>Stop after the first step that ends past this much training time (then evaluate and checkpoint as after the last step); null = no limit.</summary>
    public TimeSpan? MaxDuration { get; init; }

    /// <summary>Evaluate every this many steps (and after the last); 0 = only after the last.</summary>
    public int EvalEvery { get; init; } = 100;

    public int EvalBatches { get; init; } = 20;

    /// <summary>Global-norm gradient clipping; 0 disables it.</summary>
    public double GradientClip { get; init; } = 1.0;

    /// <summary>Micro-batches per step (equal row slices of the step's batch); each contributes loss / k to the gradient.</summary>
    public int GradientAccumulation { get; init; } = 1;

    public NonFinitePolicy OnNonFinite { get; init; } = NonFinitePolicy.Stop;

    /// <summary>The forward pass's precision; the model's device is wherever its parameters are.</summary>
    public Precision Precision { get; init; } = Precision.Fp32;

    /// <summary>Report a step event every this many steps.</summary>
    public int ReportEvery { get; init; } = 10;

    /// <summary>Write <see cref="CheckpointPath"/> every this many steps (and after the last); 0 = never.</summary>
    public int CheckpointEvery { get; init; }

    public string? CheckpointPath { get; init; }

    /// <summary>Stored with every checkpoint the run writes (model config, tokenizer), so a checkpoint stands alone.</summary>
    public IReadOnlyDictionary<string, string>? CheckpointMetadata { get; init; }

    public void Validate()
    {
        ConfigFile.Require(MaxSteps >= 0, "max_steps", $"must be non-negative, got {MaxSteps}");
        ConfigFile.Require(MaxDuration is null || MaxDuration > TimeSpan.Zero, "max_seconds", $"must be positive, got {MaxDuration?.TotalSeconds}");
        ConfigFile.Require(EvalEvery >= 0, "eval_every", $"must be non-negative, got {EvalEvery}");
        ConfigFile.Require(EvalBatches >= 1, "eval_batches", $"must be at least 1, got {EvalBatches}");
        ConfigFile.Require(GradientClip >= 0 && double.IsFinite(GradientClip), "gradient_clip", $"must be a finite non-negative number, got {GradientClip}");
        ConfigFile.Require(GradientAccumulation >= 1, "gradient_accumulation", $"must be at least 1, got {GradientAccumulation}");
        ConfigFile.Require(ReportEvery >= 1, "report_every", $"must be at least 1, got {ReportEvery}");
        ConfigFile.Require(CheckpointEvery >= 0, "checkpoint_every", $"must be non-negative, got {CheckpointEvery}");
        ConfigFile.Require(CheckpointEvery == 0 || !string.IsNullOrWhiteSpace(CheckpointPath), "checkpoint_path", "is required when checkpoint_every > 0");
    }
}

public enum TrainingEventKind { Step, Evaluation, Checkpoint, SkippedStep }

/// <summary>One report from <see cref="Trainer.Run"/>: Loss is the step's training loss, ValidationLoss set on evaluations.</summary>
public sealed record TrainingEvent(
    TrainingEventKind Kind,
    long Step,
    long MaxSteps,
    double Loss,
    double? ValidationLoss,
    double LearningRate,
    double GradientNorm,
    double TokensPerSecond,
    TimeSpan Elapsed);

public sealed class TrainingDivergedException(string message) : Exception(message);

/// <summary>
/// The single-process reference trainer: teacher-forced mini-batch steps with a schedule, clipping and
/// accumulation, evaluation, and checkpoints that resume the exact loss trajectory. The distributed
/// trainer must reproduce it. A recurrent model on a source whose batches continue each other (truncated
/// BPTT) starts each batch part from the detached state the previous batch left in that part.
/// </summary>
public sealed class Trainer : IDisposable
{
    private const string RngTensor = "rng.cpu";
    private const string StepKey = "olm.step";
    private const string OptimizerStepsKey = "olm.optimizer_steps";
    private const string CarriedStatePrefix = "tbptt.";

    private readonly ILanguageModel model;
    private readonly Module module;
    private readonly Optimizer optimizer;
    private readonly ILearningRateSchedule schedule;
    private readonly IBatchSource train;
    private readonly IBatchSource? validation;
    private readonly TrainerOptions options;
    private readonly CarriedStates carried;

    public Trainer(ILanguageModel model, Optimizer optimizer, ILearningRateSchedule schedule, IBatchSource train, IBatchSource? validation, TrainerOptions options)
    {
        options.Validate();
        this.model = model;
        module = model as Module ?? throw new ArgumentException($"{model.GetType().Name} is not a Module, so it cannot be checkpointed", nameof(model));
        this.optimizer = optimizer;
        this.schedule = schedule;
        this.train = train;
        this.validation = validation;
        this.options = options;
        carried = new CarriedStates(options.GradientAccumulation);
    }

    /// <summary>Steps completed so far (the index of the next step).</summary>
    public long Step { get; private set; }

    /// <summary>Trains from <see cref="Step"/> to MaxSteps; returns the last validation loss (NaN without a validation source).</summary>
    public double Run(IProgress<TrainingEvent>? progress = null, CancellationToken cancellation = default)
    {
        var clock = Stopwatch.StartNew();
        long tokens = 0;
        var validationLoss = double.NaN;
        module.Train();
        while (Step < options.MaxSteps)
        {
            cancellation.ThrowIfCancellationRequested();
            var learningRate = schedule.LearningRateAt(Step);
            optimizer.LearningRate = learningRate;
            var (loss, gradientNorm, stepTokens) = ForwardBackward();
            tokens += stepTokens;

            if (!double.IsFinite(loss) || !double.IsFinite(gradientNorm))
            {
                optimizer.ZeroGrad();
                var what = double.IsFinite(loss) ? $"gradient norm is {gradientNorm}" : $"loss is {loss}";
                if (options.OnNonFinite == NonFinitePolicy.Stop)
                    throw new TrainingDivergedException($"step {Step}: the {what}; stopping with the parameters of step {Step - 1} (set on_non_finite: skip to drop such steps)");
                Report(progress, TrainingEventKind.SkippedStep, loss, null, learningRate, gradientNorm, tokens, clock);
                Step++;
                continue;
            }

            optimizer.Step();
            optimizer.ZeroGrad();
            Step++;

            var last = Step == options.MaxSteps || clock.Elapsed >= options.MaxDuration;
            if (Step % options.ReportEvery == 0 || last)
                Report(progress, TrainingEventKind.Step, loss, null, learningRate, gradientNorm, tokens, clock);
            if (validation is not null && (last || (options.EvalEvery > 0 && Step % options.EvalEvery == 0)))
            {
                validationLoss = Evaluate(validation, options.EvalBatches);
                Report(progress, TrainingEventKind.Evaluation, loss, validationLoss, learningRate, gradientNorm, tokens, clock);
            }
            if (options.CheckpointPath is { } path && options.CheckpointEvery > 0 && (last || Step % options.CheckpointEvery == 0))
            {
                SaveCheckpoint(path, options.CheckpointMetadata);
                Report(progress, TrainingEventKind.Checkpoint, loss, null, learningRate, gradientNorm, tokens, clock);
            }
            if (last) break;
        }
        return validationLoss;
    }

    /// <summary>Mean loss over batches 0..<paramref name="batches"/>−1 of <paramref name="source"/>, in eval mode.</summary>
    public double Evaluate(IBatchSource source, int batches) => BatchLoss.Evaluate(model, module, source, batches, options.Precision);

    /// <summary>
    /// Writes the model as a <see cref="ModelFile"/> with the optimizer state, the RNG state and the step beside it,
    /// atomically; <paramref name="metadata"/> (model config, tokenizer, ...) is stored with them.
    /// </summary>
    public void SaveCheckpoint(string path, IReadOnlyDictionary<string, string>? metadata = null)
    {
        using var scope = DisposeScope.Enter();
        var training = new Dictionary<string, Tensor> { [RngTensor] = LibTorch.GetRngState() };
        foreach (var (name, tensor) in carried.StateDict()) training[CarriedStatePrefix + name] = tensor;
        var allMetadata = new Dictionary<string, string>(metadata ?? new Dictionary<string, string>())
        {
            [StepKey] = Step.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        OptimizerStateEntries.Add(optimizer.StateDict(), training, allMetadata, OptimizerStepsKey);
        ModelFile.Save(path, module, training, allMetadata);
    }

    /// <summary>Restores what <see cref="SaveCheckpoint"/> wrote; returns the file's metadata.</summary>
    public IReadOnlyDictionary<string, string> LoadCheckpoint(string path)
    {
        using var content = Safetensors.Load(path);
        if (!content.Metadata.TryGetValue(StepKey, out var stepText) || !long.TryParse(stepText, out var step) || step < 0)
            throw new InvalidDataException($"{path} is not an OrleansLm checkpoint: metadata '{StepKey}' is missing or invalid");
        if (!content.Tensors.TryGetValue(RngTensor, out var rng))
            throw new InvalidDataException($"{path} is not an OrleansLm checkpoint: tensor '{RngTensor}' is missing");
        var optimizerState = OptimizerStateEntries.Read(content.Tensors, content.Metadata, OptimizerStepsKey,
            reason => new InvalidDataException($"{path}: {reason}"));

        module.LoadStateDict(ModelFile.ModelTensors(content.Tensors));
        optimizer.LoadStateDict(optimizerState);
        carried.LoadStateDict(OptimizerStateEntries.WithPrefix(content.Tensors, CarriedStatePrefix), TrainingDevices.DeviceOf(model.Parameters()));
        LibTorch.SetRngState(rng);
        Step = step;
        return content.Metadata;
    }

    private (double Loss, double GradientNorm, long Tokens) ForwardBackward()
    {
        using var scope = DisposeScope.Enter();
        double loss = 0;
        long tokens = 0;
        var k = options.GradientAccumulation;
        for (var micro = 0; micro < k; micro++)
        {
            var (microLoss, microTokens) = BatchLoss.Carrying(model, train, Step, micro, k, carried, options.Precision);
            (microLoss / k).Backward();
            loss += microLoss.ToDouble() / k;
            tokens += microTokens;
        }
        var gradientNorm = options.GradientClip > 0
            ? GradientClipping.ClipGradNorm(model.Parameters(), options.GradientClip)
            : 0;
        return (loss, gradientNorm, tokens);
    }

    public void Dispose() => carried.Dispose();

    private void Report(IProgress<TrainingEvent>? progress, TrainingEventKind kind, double loss, double? validationLoss,
        double learningRate, double gradientNorm, long tokens, Stopwatch clock) =>
        progress?.Report(new TrainingEvent(kind, Step, options.MaxSteps, loss, validationLoss, learningRate, gradientNorm,
            tokens / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), clock.Elapsed));

}
