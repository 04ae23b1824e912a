namespace OrleansLm.Cli.Scaling;

/// <summary>A run's point in a figure: its X, its final validation loss, and whether the fit used it.</summary>
public sealed record CurvePoint(double X, double Loss, bool Fitted);

/// <summary>What a scaling-curve figure shows: the runs of a sweep against one quantity, and the power law fitted to some of them.</summary>
public sealed record CurveFigure(string Title, ScalingQuantity Quantity, IReadOnlyList<CurvePoint> Points, PowerLawFit Fit);
