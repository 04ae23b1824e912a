namespace OrleansLm.Model.Optim;

/// <summary>
/// Hyper-parameters every optimizer shares. <see cref="LearningRate"/> and <see cref="WeightDecay"/> are
/// defaults that a <see cref="ParameterGroup"/> may override. Values are checked as they are set, so a
/// bad option fails where it was written, with the option's name.
/// </summary>
public abstract record OptimizerOptions
{
    /// <summary>γ, the step size.</summary>
    public double LearningRate { get; init => field = Argument.NonNegative(value, nameof(LearningRate)); } = 1e-3;

    /// <summary>λ: an L2 penalty added to the gradient (decoupled from it in AdamW).</summary>
    public double WeightDecay { get; init => field = Argument.NonNegative(value, nameof(WeightDecay)); }

    /// <summary>Ascend the objective instead of descending it (g ← −g).</summary>
    public bool Maximize { get; init; }
}

internal static class Argument
{
    /// <summary>Rejects negative values and NaN, which PyTorch's "not 0.0 &lt;= x" checks also reject.</summary>
    public static double NonNegative(double value, string name) =>
        value >= 0 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must be a non-negative number");

    /// <summary>Accepts [0, 1): the decay rates of running averages.</summary>
    public static double UnitInterval(double value, string name) =>
        value is >= 0 and < 1 ? value : throw new ArgumentOutOfRangeException(name, value, $"{name} must lie in [0, 1)");
}
