namespace OrleansLm.Model.Optim;

/// <summary>
/// A learning rate as a pure function of the step (0-based), so a resumed or distributed run recomputes it
/// instead of storing it. Apply before each update: <c>optimizer.LearningRate = schedule.LearningRateAt(step);</c>
/// </summary>
public interface ILearningRateSchedule
{
    double LearningRateAt(long step);
}

public sealed class ConstantSchedule(double learningRate) : ILearningRateSchedule
{
    public double LearningRate { get; } = Argument.NonNegative(learningRate, nameof(learningRate));

    public double LearningRateAt(long step)
    {
        Schedules.CheckStep(step);
        return LearningRate;
    }
}

/// <summary>γ·g^⌊step / stepSize⌋, as torch.optim.lr_scheduler.StepLR.</summary>
public sealed class StepSchedule : ILearningRateSchedule
{
    public StepSchedule(double learningRate, long stepSize, double gamma)
    {
        LearningRate = Argument.NonNegative(learningRate, nameof(learningRate));
        StepSize = stepSize > 0 ? stepSize : throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "stepSize must be positive");
        Gamma = Argument.NonNegative(gamma, nameof(gamma));
    }

    public double LearningRate { get; }

    public long StepSize { get; }

    public double Gamma { get; }

    public double LearningRateAt(long step) => LearningRate * Math.Pow(Gamma, Schedules.CheckStep(step) / StepSize);
}

/// <summary>
/// nanoGPT's get_lr: a linear warm-up to <see cref="LearningRate"/> over <see cref="WarmupIters"/> steps,
/// a cosine decay to <see cref="MinLearningRate"/> at <see cref="LrDecayIters"/>, and the minimum after that.
/// <code>
/// step &lt; warmup:          γ · (step + 1) / (warmup + 1)
/// step &gt; lrDecayIters:    γ_min
/// otherwise:              γ_min + ½(1 + cos(π·r))(γ − γ_min),   r = (step − warmup) / (lrDecayIters − warmup)
/// </code>
/// </summary>
public sealed class WarmupCosineSchedule : ILearningRateSchedule
{
    public WarmupCosineSchedule(double learningRate, double minLearningRate, long warmupIters, long lrDecayIters)
    {
        LearningRate = Argument.NonNegative(learningRate, nameof(learningRate));
        MinLearningRate = Argument.NonNegative(minLearningRate, nameof(minLearningRate));
        if (MinLearningRate > LearningRate)
            throw new ArgumentOutOfRangeException(nameof(minLearningRate), minLearningRate, $"minLearningRate must not exceed learningRate ({learningRate})");
        WarmupIters = warmupIters >= 0 ? warmupIters : throw new ArgumentOutOfRangeException(nameof(warmupIters), warmupIters, "warmupIters must be non-negative");
        LrDecayIters = lrDecayIters > warmupIters
            ? lrDecayIters
            : throw new ArgumentOutOfRangeException(nameof(lrDecayIters), lrDecayIters, $"lrDecayIters must exceed warmupIters ({warmupIters})");
    }

    public double LearningRate { get; }

    public double MinLearningRate { get; }

    public long WarmupIters { get; }

    public long LrDecayIters { get; }

    public double LearningRateAt(long step)
    {
        Schedules.CheckStep(step);
        if (step < WarmupIters) return LearningRate * (step + 1) / (WarmupIters + 1);
        if (step > LrDecayIters) return MinLearningRate;
        var decayRatio = (double)(step - WarmupIters) / (LrDecayIters - WarmupIters);
        var coefficient = 0.5 * (1 + Math.Cos(Math.PI * decayRatio));
        return MinLearningRate + coefficient * (LearningRate - MinLearningRate);
    }
}

internal static class Schedules
{
    public static long CheckStep(long step) =>
        step >= 0 ? step : throw new ArgumentOutOfRangeException(nameof(step), step, "step must be non-negative");
}
