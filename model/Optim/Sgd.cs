using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Optim;

public sealed record SgdOptions : OptimizerOptions
{
    /// <summary>μ.</summary>
    public double Momentum { get; init => field = Argument.NonNegative(value, nameof(Momentum)); }

    /// <summary>τ: the share of the new gradient withheld from the momentum buffer.</summary>
    public double Dampening { get; init; }

    public bool Nesterov { get; init; }
}

/// <summary>
/// Stochastic gradient descent, the lecture notes' algorithm (and torch.optim.SGD's), per parameter θ with gradient g:
/// <code>
/// g ← −g                        if maximize
/// g ← g + λθ                    if λ ≠ 0
/// if μ ≠ 0:
///     b ← g at the first step, else b ← μb + (1 − τ)g
///     g ← g + μb if Nesterov, else g ← b
/// θ ← θ − γg
/// </code>
/// </summary>
public sealed class Sgd : Optimizer
{
    private const string MomentumBuffer = "momentum_buffer";

    private readonly SgdOptions options;

    public Sgd(IEnumerable<Tensor> parameters, SgdOptions options) : this([new ParameterGroup(parameters)], options)
    {
    }

    public Sgd(IEnumerable<ParameterGroup> groups, SgdOptions options) : base(groups, options)
    {
        if (options.Nesterov && (options.Momentum <= 0 || options.Dampening != 0))
            throw new ArgumentException(
                $"Nesterov momentum requires a momentum > 0 and zero dampening (got momentum {options.Momentum}, dampening {options.Dampening})",
                nameof(options));
        this.options = options;
        StateNames = options.Momentum != 0 ? [MomentumBuffer] : [];
    }

    protected override IReadOnlyList<string> StateNames { get; }

    protected override void Update(Tensor parameter, Tensor gradient, ParameterState state, OptimizerGroup group)
    {
        var g = Direction(gradient, parameter, group.WeightDecay);
        var mu = options.Momentum;
        if (mu != 0)
        {
            var b = state[MomentumBuffer];
            if (state.Step == 1) b.CopyFrom(g);
            else b.MulInPlace(mu).AddInPlace(g, 1 - options.Dampening);
            g = options.Nesterov ? g.Add(b, mu) : b;
        }
        parameter.AddInPlace(g, -group.LearningRate);
    }
}
