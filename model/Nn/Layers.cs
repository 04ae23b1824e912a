using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Nn;

/// <summary>y = x Wᵀ + b; W [out, in] and b [out] start U(−1/√in, 1/√in), as PyTorch's nn.Linear.</summary>
public sealed class Linear : Module<Tensor, Tensor>
{
    public Linear(long inFeatures, long outFeatures, bool bias = true)
    {
        var bound = 1 / Math.Sqrt(inFeatures);
        Weight = RegisterParameter("weight", Tensor.Zeros([outFeatures, inFeatures]).UniformInPlace(-bound, bound));
        Bias = bias ? RegisterParameter("bias", Tensor.Zeros([outFeatures]).UniformInPlace(-bound, bound)) : null;
    }

    public Tensor Weight { get; }

    public Tensor? Bias { get; }

    public override Tensor Forward(Tensor x) => Functional.Linear(x, Weight, Bias);  // [..., in] → [..., out]
}

/// <summary>A lookup table of <c>count</c> vectors of size <c>dimension</c>, N(0, 1) at start.</summary>
public sealed class Embedding : Module<Tensor, Tensor>
{
    public Embedding(long count, long dimension) =>
        Weight = RegisterParameter("weight", Tensor.Randn([count, dimension]));

    public Tensor Weight { get; }

    public override Tensor Forward(Tensor indices) => Functional.Embedding(Weight, indices);  // [...] → [..., d]
}

/// <summary>Normalises the last dimension to zero mean and unit variance, then scales by γ and shifts by β.</summary>
public sealed class LayerNorm : Module<Tensor, Tensor>
{
    private readonly long dimension;
    private readonly double eps;

    public LayerNorm(long dimension, double eps = 1e-5, bool bias = true)
    {
        this.dimension = dimension;
        this.eps = eps;
        Weight = RegisterParameter("weight", Tensor.Ones([dimension]));
        Bias = bias ? RegisterParameter("bias", Tensor.Zeros([dimension])) : null;
    }

    public Tensor Weight { get; }

    public Tensor? Bias { get; }

    public override Tensor Forward(Tensor x) => Functional.LayerNorm(x, [dimension], Weight, Bias, eps);
}

/// <summary>Zeroes each element with probability p in training mode (scaling the rest by 1/(1−p)); identity in eval.</summary>
public sealed class Dropout(double p) : Module<Tensor, Tensor>
{
    public double P { get; } = p is >= 0 and < 1 ? p : throw new ArgumentOutOfRangeException(nameof(p), p, "dropout probability must be in [0, 1)");

    public override Tensor Forward(Tensor x) => P == 0 ? x : Functional.Dropout(x, P, Training);
}
