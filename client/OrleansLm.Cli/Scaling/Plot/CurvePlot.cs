using System.Globalization;

namespace OrleansLm.Cli.Scaling.Plot;

/// <summary>
/// Draws a <see cref="CurveFigure"/> on a canvas: log-log axes with labelled and minor ticks and a light grid, the runs
/// (filled where the fit used them, hollow where not), the fitted power law as a straight line clipped to the axes, a
/// legend with the law and its R², and a title.
/// </summary>
public static class CurvePlot
{
    /// <summary>The figure's size in pixels, as `olm curve` draws it; <see cref="Draw"/> lays out on any canvas of about this size.</summary>
    public const int Width = 960;

    public const int Height = 640;

    public static readonly Colour Background = Colour.White;
    public static readonly Colour PointColour = Colour.FromHex("#1f77b4");
    public static readonly Colour FitColour = Colour.FromHex("#d62728");
    private static readonly Colour Ink = Colour.FromHex("#222222");
    private static readonly Colour Grid = Colour.FromHex("#e3e3e3");
    private static readonly Colour Muted = Colour.FromHex("#8c8c8c");
    private static readonly Colour PointEdge = Colour.FromHex("#0b3d62");

    private static readonly TextStyle TitleStyle = new(3, Ink, TextAnchor.Middle);
    private static readonly TextStyle SubtitleStyle = new(2, Colour.FromHex("#555555"), TextAnchor.Middle);
    private static readonly TextStyle AxisTitleStyle = new(2, Ink, TextAnchor.Middle);
    private static readonly TextStyle XTickStyle = new(2, Ink, TextAnchor.Middle);
    private static readonly TextStyle YTickStyle = new(2, Ink, TextAnchor.End);
    private static readonly TextStyle LegendStyle = new(2, Ink);

    private const double PointRadius = 5.5;
    private const double MajorTick = 8;
    private const double MinorTick = 4;
    private const double Top = 84.5;
    // The plotting area's margins: room for the title above, the tick labels and the axis title below.
    private const double RightMargin = 30;
    private const double BottomMargin = 90;
    private const double LegendLineHeight = 28;
    private const double LegendPadding = 12;
    private const double LegendMarkerWidth = 40;

    private const string LossAxisTitle = "validation loss L (nats/token)";

    public static void Draw(ICanvas canvas, CurveFigure figure)
    {
        var x = new LogAxis(figure.Points.Min(p => p.X), figure.Points.Max(p => p.X));
        var y = new LogAxis(figure.Points.Min(p => p.Loss), figure.Points.Max(p => p.Loss));
        var yLabelWidth = y.Ticks.Where(t => t.IsMajor).Max(t => BitmapFont.Width(t.Label!, YTickStyle.Scale));
        // The y title (turned), a gap, the widest tick label, a gap, then the axis.
        const double yTitleX = 36;
        var left = Math.Round(yTitleX + 16 + yLabelWidth + 12) + 0.5;
        // Half-pixel edges: a 1-pixel frame then fills whole pixels.
        var (right, bottom) = (canvas.Width - RightMargin - 0.5, canvas.Height - BottomMargin - 0.5);
        var area = new Area(left, Top, right, bottom, x, y);

        foreach (var tick in x.Ticks.Where(t => t.IsMajor))
            canvas.Line(new Point(area.X(tick.Value), Top), new Point(area.X(tick.Value), bottom), new Stroke(Grid, 1), "grid x");
        foreach (var tick in y.Ticks.Where(t => t.IsMajor))
            canvas.Line(new Point(left, area.Y(tick.Value)), new Point(right, area.Y(tick.Value)), new Stroke(Grid, 1), "grid y");
        canvas.Rectangle(new Point(left, Top), right - left, bottom - Top, null, new Stroke(Ink, 1), "axes");

        foreach (var tick in x.Ticks)
        {
            var at = area.X(tick.Value);
            canvas.Line(new Point(at, bottom), new Point(at, bottom - (tick.IsMajor ? MajorTick : MinorTick)), new Stroke(Ink, 1), tick.IsMajor ? "tick x major" : "tick x minor");
            if (tick.Label is { } label) canvas.Text(new Point(at, bottom + 28), label, XTickStyle, "tick-label x");
        }
        foreach (var tick in y.Ticks)
        {
            var at = area.Y(tick.Value);
            canvas.Line(new Point(left, at), new Point(left + (tick.IsMajor ? MajorTick : MinorTick), at), new Stroke(Ink, 1), tick.IsMajor ? "tick y major" : "tick y minor");
            if (tick.Label is { } label) canvas.Text(new Point(left - 10, at + BitmapFont.Regular.Ascent * YTickStyle.Scale / 2.0), label, YTickStyle, "tick-label y");
        }
        canvas.Text(new Point((left + right) / 2, bottom + 64), new Label(figure.Quantity.AxisTitle), AxisTitleStyle, "axis-title x");
        canvas.Text(new Point(yTitleX, (Top + bottom) / 2), new Label(LossAxisTitle), AxisTitleStyle with { Vertical = true }, "axis-title y");
        canvas.Text(new Point(canvas.Width / 2.0, 36), new Label(figure.Title), TitleStyle, "title");
        var fittedRuns = figure.Points.Count(p => p.Fitted);
        canvas.Text(new Point(canvas.Width / 2.0, 66), new Label($"fitted to {figure.Quantity.Subset}: {fittedRuns} of {figure.Points.Count} runs"), SubtitleStyle, "subtitle");

        var line = area.Clip(area.Pixel(x.Low, figure.Fit.Loss(x.Low)), area.Pixel(x.High, figure.Fit.Loss(x.High)));
        if (line is var (from, to)) canvas.Line(from, to, new Stroke(FitColour, 2.5), "fit");
        var points = figure.Points.OrderBy(p => p.Fitted).Select(p => (Pixel: area.Pixel(p.X, p.Loss), p.Fitted)).ToList();
        // The points go over the legend: it may hide a stretch of the line, never a run.
        DrawLegend(canvas, figure, area, [.. points.Select(p => p.Pixel)], line);
        foreach (var (pixel, fitted) in points)
        {
            if (fitted) canvas.Circle(pixel, PointRadius, PointColour, new Stroke(PointEdge, 1), "point fitted");
            else canvas.Circle(pixel, PointRadius, Background, new Stroke(Muted, 1.5), "point other");
        }
    }

    /// <summary>The law as the legend writes it: L = (C / 3.10e13)^−0.050, that is (X_c / X)^α turned round.</summary>
    private static Label Law(ScalingQuantity quantity, PowerLawFit fit) =>
        new Label($"L = ({quantity.Symbol} / {SweepText.Scientific(fit.Scale)})").ThenSuperscript(Label.Typeset((-fit.Alpha).ToString("0.000", CultureInfo.InvariantCulture)));

    private static void DrawLegend(ICanvas canvas, CurveFigure figure, Area area, IReadOnlyList<Point> points, (Point From, Point To)? line)
    {
        var fitted = figure.Points.Count(p => p.Fitted);
        var others = figure.Points.Count - fitted;
        var entries = new List<(Label Text, Action<Point>? Marker, string Role)>
        {
            (new Label($"runs fitted ({fitted})"),
                at => canvas.Circle(at, PointRadius, PointColour, new Stroke(PointEdge, 1), "legend-fitted-marker"), "legend-fitted"),
        };
        if (others > 0)
            entries.Add((new Label($"other runs ({others})"),
                at => canvas.Circle(at, PointRadius, Background, new Stroke(Muted, 1.5), "legend-other-marker"), "legend-other"));
        entries.Add((Law(figure.Quantity, figure.Fit),
            at => canvas.Line(new Point(at.X - 12, at.Y), new Point(at.X + 12, at.Y), new Stroke(FitColour, 2.5), "legend-fit-marker"), "legend-fit"));
        entries.Add((new Label("R").ThenSuperscript("2").Then($" = {figure.Fit.RSquared.ToString("0.000", CultureInfo.InvariantCulture)}"), null, "legend-r-squared"));

        var width = LegendPadding * 2 + LegendMarkerWidth + entries.Max(e => BitmapFont.Width(e.Text, LegendStyle.Scale));
        var height = LegendPadding * 2 + LegendLineHeight * entries.Count - 8;
        var corner = QuietestCorner(area, width, height, points, line);
        canvas.Rectangle(corner, width, height, Background with { Opacity = 0.92 }, new Stroke(Colour.FromHex("#bbbbbb"), 1), "legend");
        for (var i = 0; i < entries.Count; i++)
        {
            var middle = corner.Y + LegendPadding + 10 + i * LegendLineHeight;
            entries[i].Marker?.Invoke(new Point(corner.X + LegendPadding + LegendMarkerWidth / 2 - 6, middle));
            canvas.Text(new Point(corner.X + LegendPadding + LegendMarkerWidth, middle + 7), entries[i].Text, LegendStyle, entries[i].Role);
        }
    }

    /// <summary>
    /// Where the legend is in the way the least: the corner of the area whose box covers the fewest points (each counting
    /// as a fifth of the fitted line), top right first, where a falling curve usually leaves room.
    /// </summary>
    private static Point QuietestCorner(Area area, double width, double height, IReadOnlyList<Point> points, (Point From, Point To)? line)
    {
        const double inset = 12;
        var (left, right) = (Math.Round(area.Left + inset) + 0.5, Math.Round(area.Right - inset - width) + 0.5);
        var (top, bottom) = (Math.Round(area.Top + inset) + 0.5, Math.Round(area.Bottom - inset - height) + 0.5);
        Point[] corners = [new(right, top), new(left, bottom), new(left, top), new(right, bottom)];
        var samples = line is var (from, to)
            ? Enumerable.Range(0, 101).Select(i => new Point(from.X + (to.X - from.X) * i / 100, from.Y + (to.Y - from.Y) * i / 100)).ToList()
            : [];
        return corners.MinBy(corner =>
        {
            bool Covers(Point p, double margin) =>
                p.X >= corner.X - margin && p.X <= corner.X + width + margin && p.Y >= corner.Y - margin && p.Y <= corner.Y + height + margin;
            return 20 * points.Count(p => Covers(p, PointRadius)) + samples.Count(p => Covers(p, 2));
        });
    }

    /// <summary>The plotting area in pixels and the axes that map data into it.</summary>
    private sealed record Area(double Left, double Top, double Right, double Bottom, LogAxis XAxis, LogAxis YAxis)
    {
        public double X(double value) => Left + XAxis.Fraction(value) * (Right - Left);

        public double Y(double value) => Bottom - YAxis.Fraction(value) * (Bottom - Top);

        public Point Pixel(double x, double y) => new(X(x), Y(y));

        /// <summary>The part of the segment inside the area (Liang–Barsky), or null when none is.</summary>
        public (Point From, Point To)? Clip(Point from, Point to)
        {
            var (dx, dy) = (to.X - from.X, to.Y - from.Y);
            double enter = 0, leave = 1;
            foreach (var (p, q) in new[] { (-dx, from.X - Left), (dx, Right - from.X), (-dy, from.Y - Top), (dy, Bottom - from.Y) })
            {
                if (p == 0)
                {
                    if (q < 0) return null;
                    continue;
                }
                var t = q / p;
                if (p < 0) enter = Math.Max(enter, t);
                else leave = Math.Min(leave, t);
            }
            if (enter >= leave) return null;
            return (new Point(from.X + enter * dx, from.Y + enter * dy), new Point(from.X + leave * dx, from.Y + leave * dy));
        }
    }
}
