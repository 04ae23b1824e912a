using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Optim;

public record AdamOptions : OptimizerOptions
{
    /// <summary>β₁, the decay of the first-moment average m.</summary>
    public double Beta1 { get; init => field = Argument.UnitInterval(value, nameof(Beta1)); } = 0.9;

    /// <summary>β₂, the decay of the second-moment average v.</summary>
    public double Beta2 { get; init => field = Argument.UnitInterval(value, nameof(Beta2)); } = 0.999;

    /// <summary>ε, added to √v̂ so the step stays bounded where v is near zero.</summary>
    public double Eps { get; init => field = Argument.NonNegative(value, nameof(Eps)); } = 1e-8;

    /// <summary>Normalise by the largest v seen so far (AMSGrad) instead of the current one.</summary>
    public bool Amsgrad { get; init; }
}

/// <summary>AdamW's options: as Adam's, with PyTorch's default weight decay of 0.01.</summary>
public sealed record AdamWOptions : AdamOptions
{
    public AdamWOptions() => WeightDecay = 1e-2;
}

/// <summary>
/// Adam (Kingma &amp; Ba), as torch.optim.Adam; weight decay is an L2 penalty added to the gradient.
/// At step t, per parameter θ:
/// <code>
/// g ← −g if maximize;  g ← g + λθ                      (Adam)   |   θ ← θ(1 − γλ)   (AdamW)
/// m ← β₁m + (1 − β₁)g
/// v ← β₂v + (1 − β₂)g²;   v_max ← max(v_max, v) and use it for v if amsgrad
/// θ ← θ − γ/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε)
/// </code>
/// </summary>
public class Adam : Optimizer
{
    private const string ExpAvg = "exp_avg";
    private const string ExpAvgSq = "exp_avg_sq";
    private const string MaxExpAvgSq = "max_exp_avg_sq";

    private readonly AdamOptions options;

    public Adam(IEnumerable<Tensor> parameters, AdamOptions options) : this([new ParameterGroup(parameters)], options)
    {
    }

    public Adam(IEnumerable<ParameterGroup> groups, AdamOptions options) : base(groups, options)
    {
        this.options = options;
        StateNames = options.Amsgrad ? [ExpAvg, ExpAvgSq, MaxExpAvgSq] : [ExpAvg, ExpAvgSq];
    }

    protected override IReadOnlyList<string> StateNames { get; }

    /// <summary>True for AdamW: weight decay shrinks θ directly instead of entering the gradient (and so the moments).</summary>
    protected virtual bool DecoupledWeightDecay => false;

    protected override void Update(Tensor parameter, Tensor gradient, ParameterState state, OptimizerGroup group)
    {
        var (beta1, beta2, lr) = (options.Beta1, options.Beta2, group.LearningRate);
        var g = Direction(gradient, parameter, DecoupledWeightDecay ? 0 : group.WeightDecay);
        if (DecoupledWeightDecay) parameter.MulInPlace(1 - lr * group.WeightDecay);

        var m = state[ExpAvg];
        var v = state[ExpAvgSq];
        m.MulInPlace(beta1).AddInPlace(g, 1 - beta1);
        v.MulInPlace(beta2).AddcmulInPlace(g, g, 1 - beta2);
        if (options.Amsgrad)
        {
            var vMax = state[MaxExpAvgSq];
            vMax.CopyFrom(vMax.Maximum(v));
            v = vMax;
        }

        var biasCorrection1 = 1 - Math.Pow(beta1, state.Step);
        var biasCorrection2 = 1 - Math.Pow(beta2, state.Step);
        var denominator = (v.Sqrt() / Math.Sqrt(biasCorrection2)).AddInPlace(options.Eps);
        parameter.AddcdivInPlace(m, denominator, -lr / biasCorrection1);
    }
}

/// <summary>AdamW (Loshchilov &amp; Hutter), as torch.optim.AdamW: Adam with decoupled weight decay θ ← θ(1 − γλ).</summary>
public sealed class AdamW : Adam
{
    public AdamW(IEnumerable<Tensor> parameters, AdamWOptions options) : base(parameters, options)
    {
    }

    public AdamW(IEnumerable<ParameterGroup> groups, AdamWOptions options) : base(groups, options)
    {
    }

    protected override bool DecoupledWeightDecay => true;
}
