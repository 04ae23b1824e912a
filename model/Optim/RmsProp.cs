using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Optim;

public sealed record RmsPropOptions : OptimizerOptions
{
    public RmsPropOptions() => LearningRate = 1e-2;

    /// <summary>α, the decay of the average of squared gradients.</summary>
    public double Alpha { get; init => field = Argument.NonNegative(value, nameof(Alpha)); } = 0.99;

    public double Eps { get; init => field = Argument.NonNegative(value, nameof(Eps)); } = 1e-8;

    /// <summary>μ.</summary>
    public double Momentum { get; init => field = Argument.NonNegative(value, nameof(Momentum)); }

    /// <summary>Normalise by an estimate of the gradient's variance, v − ḡ², instead of its raw second moment.</summary>
    public bool Centered { get; init; }
}

/// <summary>
/// RMSprop (Hinton), as torch.optim.RMSprop. Per parameter θ:
/// <code>
/// g ← −g if maximize;  g ← g + λθ
/// v ← αv + (1 − α)g²
/// ḡ ← αḡ + (1 − α)g and d ← √(v − ḡ²) + ε   if centered,   else d ← √v + ε
/// b ← μb + g/d and θ ← θ − γb                  if μ > 0,      else θ ← θ − γg/d
/// </code>
/// </summary>
public sealed class RmsProp : Optimizer
{
    private const string SquareAvg = "square_avg";
    private const string MomentumBuffer = "momentum_buffer";
    private const string GradAvg = "grad_avg";

    private readonly RmsPropOptions options;

    public RmsProp(IEnumerable<Tensor> parameters, RmsPropOptions options) : this([new ParameterGroup(parameters)], options)
    {
    }

    public RmsProp(IEnumerable<ParameterGroup> groups, RmsPropOptions options) : base(groups, options)
    {
        this.options = options;
        List<string> names = [SquareAvg];
        if (options.Momentum > 0) names.Add(MomentumBuffer);
        if (options.Centered) names.Add(GradAvg);
        StateNames = names;
    }

    protected override IReadOnlyList<string> StateNames { get; }

    protected override void Update(Tensor parameter, Tensor gradient, ParameterState state, OptimizerGroup group)
    {
        var alpha = options.Alpha;
        var g = Direction(gradient, parameter, group.WeightDecay);
        var v = state[SquareAvg].MulInPlace(alpha).AddcmulInPlace(g, g, 1 - alpha);
        Tensor d;
        if (options.Centered)
        {
            var gBar = state[GradAvg].MulInPlace(alpha).AddInPlace(g, 1 - alpha);
            d = (v - gBar.Square()).SqrtInPlace();
        }
        else
        {
            d = v.Sqrt();
        }
        d.AddInPlace(options.Eps);

        if (options.Momentum > 0)
        {
            var b = state[MomentumBuffer].MulInPlace(options.Momentum).AddcdivInPlace(g, d);
            parameter.AddInPlace(b, -group.LearningRate);
        }
        else
        {
            parameter.AddcdivInPlace(g, d, -group.LearningRate);
        }
    }
}
