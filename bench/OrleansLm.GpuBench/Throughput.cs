using System.Diagnostics;
using OrleansLm.Model.Models;
using OrleansLm.Model.Optim;
using OrleansLm.Model.Torch;
using OrleansLm.Model.Training;

namespace OrleansLm.GpuBench;

/// <summary>What <see cref="Throughput.Measure"/> trains: <paramref name="Model"/> on <paramref name="Device"/>, batches of <paramref name="Batch"/> × block tokens.</summary>
internal sealed record ThroughputSettings(
    Device Device, TransformerConfig Model, int Batch, int Warmup, int Steps, Precision Precision, bool Tf32, double? PeakTflops, ulong Seed);

/// <summary>One throughput measurement; the JSON fields (snake_case) are bench/gpu_peer.py's.</summary>
internal sealed record ThroughputResult(
    string Impl, string Device, string Precision, bool Tf32, string TorchVersion, int Layers, int Heads, int Dim, int Block, int Vocab,
    int Batch, int Warmup, int Steps, ulong Seed, long Parameters, double FlopsPerToken, double Seconds, double StepMs,
    double TokensPerSecond, double? PeakTflops, double? Mfu, double FinalLoss, string Data);

/// <summary>
/// Training throughput of a Transformer on a device, as bench/gpu_peer.py measures PyTorch's: the model built from the seed
/// on the CPU and moved to the device, AdamW (lr 6e-4, betas 0.9/0.95, weight decay 0.1 on matrices), one batch of random
/// tokens drawn on the device once and trained on at every step, so that data loading is not measured. A step is the
/// forward pass (under autocast in BFloat16 when asked), backward, clipping to norm 1, the optimizer's step and zeroing
/// the gradients; the warm-up steps run first, then the timed steps between two synchronizations of the device.
/// </summary>
internal static class Throughput
{
    public const string Data = "synthetic: one batch of uniform random tokens drawn on the device, the same every step; data loading excluded";

    public const double ClipNorm = 1.0;

    public static OptimizerSection Optimizer { get; } = new(OptimizerKind.Adamw, Lr: 6e-4, Beta1: 0.9, Beta2: 0.95, WeightDecay: 0.1);

    public static ThroughputResult Measure(ThroughputSettings settings)
    {
        var (device, config) = (settings.Device, settings.Model);
        LibTorch.AllowTF32 = settings.Tf32;
        using var scope = DisposeScope.Enter();
        LibTorch.ManualSeed(settings.Seed);
        using var model = new TransformerLm(config);
        model.To(device);
        IReadOnlyList<Tensor> parameters = [.. model.Parameters()];
        using var optimizer = Optimizer.Build(parameters);
        var tokens = Tensor.Randint(0, config.VocabularySize, [settings.Batch, config.BlockSize + 1], device);  // [B, T + 1]
        var inputs = tokens.Narrow(1, 0, config.BlockSize).Contiguous();                                      // [B, T]
        var targets = tokens.Narrow(1, 1, config.BlockSize).Contiguous();                                     // [B, T]

        for (var step = 0; step < settings.Warmup; step++)
        {
            using var stepScope = DisposeScope.Enter();
            TrainStep();
        }
        LibTorch.Synchronize(device);
        var start = Stopwatch.GetTimestamp();
        var finalLoss = double.NaN;
        for (var step = 0; step < settings.Steps; step++)
        {
            using var stepScope = DisposeScope.Enter();
            var loss = TrainStep();
            if (step == settings.Steps - 1) finalLoss = loss.ToDouble();
        }
        LibTorch.Synchronize(device);
        var seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;

        var tokensPerSecond = (double)settings.Steps * settings.Batch * config.BlockSize / seconds;
        var flopsPerToken = model.FlopsPerToken(config.BlockSize);
        return new ThroughputResult(
            "orleanslm", device.ToString(), settings.Precision.ToString().ToLowerInvariant(), settings.Tf32, LibTorch.Version, config.Layers, config.Heads,
            config.ModelDimension, config.BlockSize, config.VocabularySize, settings.Batch, settings.Warmup, settings.Steps, settings.Seed,
            model.ParameterCount, flopsPerToken, seconds, seconds / settings.Steps * 1e3, tokensPerSecond, settings.PeakTflops,
            settings.PeakTflops is { } peak ? tokensPerSecond * flopsPerToken / (peak * 1e12) : null, finalLoss, Data);

        Tensor TrainStep()
        {
            var loss = Forward();
            loss.Backward();
            GradientClipping.ClipGradNorm(parameters, ClipNorm);
            optimizer.Step();
            optimizer.ZeroGrad();
            return loss;
        }

        // The mean loss; autocast covers the forward pass only, backward runs outside it (as torch.autocast asks).
        Tensor Forward()
        {
            using var autocast = TrainingDevices.ForwardPass(device, settings.Precision);
            return model.Loss(inputs, targets);
        }
    }
}
