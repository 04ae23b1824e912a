using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Optim;

public static class GradientClipping
{
    /// <summary>The constant torch.nn.utils.clip_grad_norm_ adds to the norm before dividing by it.</summary>
    public const double NormEpsilon = 1e-6;

    /// <summary>
    /// Scales all gradients together so their global 2-norm (as if concatenated into one vector) is at most
    /// <paramref name="maxNorm"/>, as torch.nn.utils.clip_grad_norm_; returns the norm before clipping.
    /// Parameters without a gradient are skipped; with none at all the norm is 0. A non-finite norm is
    /// returned (and the gradients scaled by NaN) rather than rejected: the trainer decides what to do.
    /// </summary>
    public static double ClipGradNorm(IEnumerable<Tensor> parameters, double maxNorm)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Argument.NonNegative(maxNorm, nameof(maxNorm));
        using var scope = DisposeScope.Enter();
        using var noGrad = LibTorch.NoGrad();
        var gradients = parameters.Select(p => p.Grad).OfType<Tensor>().ToList();
        if (gradients.Count == 0) return 0;
        var totalNorm = Tensor.Stack([.. gradients.Select(g => g.Norm())]).Norm().ToDouble();
        var coefficient = ClipCoefficient(totalNorm, maxNorm);
        foreach (var gradient in gradients) gradient.MulInPlace(coefficient);
        return totalNorm;
    }

    /// <summary>
    /// The factor clipping multiplies gradients by, min(1, maxNorm / (totalNorm + 1e-6)): exposed so that
    /// shards holding slices of the gradient, having combined their norms, scale exactly as one process would.
    /// </summary>
    public static double ClipCoefficient(double totalNorm, double maxNorm) => Math.Min(maxNorm / (totalNorm + NormEpsilon), 1.0);
}
