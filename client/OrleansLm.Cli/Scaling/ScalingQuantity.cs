namespace OrleansLm.Cli.Scaling;

/// <summary>
/// A quantity the loss scales with — compute C, parameters N or tokens D — with the points of a sweep its law is fitted
/// to. Kaplan et al. fit L(N) near convergence, L(D) with a model large enough not to limit it, and L(C) on the compute
/// frontier; in a grid of model sizes × token budgets these are each model's longest run, the largest model's runs,
/// and the runs no cheaper run beats.
/// </summary>
public sealed record ScalingQuantity(
    string Name,
    string Symbol,
    string AxisTitle,
    string Subset,
    Func<SweepPoint, double> Value,
    Func<IReadOnlyList<SweepPoint>, IReadOnlyList<SweepPoint>> FitPoints)
{
    public static readonly ScalingQuantity Compute = new("compute", "C", "training compute C (FLOPs)", "the compute frontier",
        point => point.Compute, Frontier);

    public static readonly ScalingQuantity Parameters = new("parameters", "N", "parameters N", "each model's longest run",
        point => point.Parameters, points => [.. points.GroupBy(p => p.Model).Select(model => model.MaxBy(p => p.Tokens)!)]);

    public static readonly ScalingQuantity Tokens = new("tokens", "D", "training tokens D", "the largest model's runs",
        point => point.Tokens, points => points.MaxBy(p => p.Parameters) is { } largest ? [.. points.Where(p => p.Model == largest.Model)] : []);

    public static readonly IReadOnlyList<ScalingQuantity> All = [Compute, Parameters, Tokens];

    /// <summary>The points with a lower loss than every point of less compute, in order of compute.</summary>
    private static IReadOnlyList<SweepPoint> Frontier(IReadOnlyList<SweepPoint> points)
    {
        var frontier = new List<SweepPoint>();
        foreach (var point in points.OrderBy(p => p.Compute).ThenBy(p => p.FinalValidationLoss))
        {
            if (frontier.Count == 0 || point.FinalValidationLoss < frontier[^1].FinalValidationLoss) frontier.Add(point);
        }
        return frontier;
    }
}
