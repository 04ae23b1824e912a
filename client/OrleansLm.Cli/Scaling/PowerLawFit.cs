namespace OrleansLm.Cli.Scaling;

/// <summary>
/// A power law L(X) = (X_c / X)^α, the form of Kaplan et al. (2020), fitted by least squares to (X, L) points as the
/// straight line ln L = α·ln X_c − α·ln X. <see cref="RSquared"/> is the coefficient of determination of that line in
/// log-log space: 1 for points on a power law, lower the more they bend away from one.
/// </summary>
/// <param name="Alpha">The exponent α: how fast the loss falls with X (negative when it rises).</param>
/// <param name="Scale">X_c, where the law reaches a loss of 1; infinite or NaN when α is 0.</param>
public sealed record PowerLawFit(double Alpha, double Scale, double RSquared, int Points)
{
    /// <summary>The loss the law gives at <paramref name="x"/>.</summary>
    public double Loss(double x) => Math.Exp(Alpha * (Math.Log(Scale) - Math.Log(x)));

    /// <exception cref="ArgumentException">Fewer than two points, a value that is not finite and positive, or X that does not vary.</exception>
    public static PowerLawFit Fit(IReadOnlyList<(double X, double Loss)> points)
    {
        if (points.Count < 2) throw new ArgumentException($"a fit needs at least 2 points, got {points.Count}", nameof(points));
        foreach (var (x, loss) in points)
        {
            if (!(x > 0) || !double.IsFinite(x) || !(loss > 0) || !double.IsFinite(loss))
                throw new ArgumentException($"a power law needs finite positive values, got X = {x}, L = {loss}", nameof(points));
        }
        var logX = points.Select(p => Math.Log(p.X)).ToArray();
        var logLoss = points.Select(p => Math.Log(p.Loss)).ToArray();
        var (meanX, meanLoss) = (logX.Average(), logLoss.Average());
        var sxx = logX.Sum(x => (x - meanX) * (x - meanX));
        if (sxx <= 1e-24 * Math.Max(1, meanX * meanX)) throw new ArgumentException("X does not vary across the points", nameof(points));
        var sxy = logX.Zip(logLoss, (x, y) => (x - meanX) * (y - meanLoss)).Sum();
        var slope = sxy / sxx;
        var intercept = meanLoss - slope * meanX;
        var residual = logX.Zip(logLoss, (x, y) => Math.Pow(y - (intercept + slope * x), 2)).Sum();
        var total = logLoss.Sum(y => (y - meanLoss) * (y - meanLoss));
        var alpha = -slope;
        // A flat loss is a perfect fit of a zero exponent, which has no scale.
        return new PowerLawFit(alpha, Math.Exp(intercept / alpha), total > 0 ? 1 - residual / total : residual == 0 ? 1 : 0, points.Count);
    }
}
