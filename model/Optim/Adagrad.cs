using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Optim;

public sealed record AdagradOptions : OptimizerOptions
{
    public AdagradOptions() => LearningRate = 1e-2;

    /// <summary>η: the step size at step t is γ / (1 + (t − 1)η).</summary>
    public double LearningRateDecay { get; init => field = Argument.NonNegative(value, nameof(LearningRateDecay)); }

    /// <summary>The value the sum of squared gradients starts from.</summary>
    public double InitialAccumulatorValue { get; init => field = Argument.NonNegative(value, nameof(InitialAccumulatorValue)); }

    public double Eps { get; init => field = Argument.NonNegative(value, nameof(Eps)); } = 1e-10;
}

/// <summary>
/// Adagrad (Duchi et al.), as torch.optim.Adagrad. At step t, per parameter θ:
/// <code>
/// g ← −g if maximize;  g ← g + λθ
/// s ← s + g²
/// θ ← θ − γ/(1 + (t − 1)η) · g / (√s + ε)
/// </code>
/// </summary>
public sealed class Adagrad : Optimizer
{
    private const string Sum = "sum";

    private readonly AdagradOptions options;

    public Adagrad(IEnumerable<Tensor> parameters, AdagradOptions options) : this([new ParameterGroup(parameters)], options)
    {
    }

    public Adagrad(IEnumerable<ParameterGroup> groups, AdagradOptions options) : base(groups, options) => this.options = options;

    protected override IReadOnlyList<string> StateNames { get; } = [Sum];

    protected override void InitializeState(string name, Tensor state) => state.Fill(options.InitialAccumulatorValue);

    protected override void Update(Tensor parameter, Tensor gradient, ParameterState state, OptimizerGroup group)
    {
        var g = Direction(gradient, parameter, group.WeightDecay);
        var stepSize = group.LearningRate / (1 + (state.Step - 1) * options.LearningRateDecay);
        var s = state[Sum].AddcmulInPlace(g, g);
        parameter.AddcdivInPlace(g, s.Sqrt().AddInPlace(options.Eps), -stepSize);
    }
}
