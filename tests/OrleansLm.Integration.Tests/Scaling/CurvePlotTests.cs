using System.Globalization;
using System.Xml.Linq;
using OrleansLm.Cli.Scaling;
using OrleansLm.Cli.Scaling.Plot;

using static OrleansLm.Integration.Tests.Scaling.Geometry;

namespace OrleansLm.Integration.Tests.Scaling;

/// <summary>A scaling-curve figure drawn as SVG (parsed back with System.Xml.Linq) and as PNG (decoded by <see cref="PngImage"/>).</summary>
public sealed class CurvePlotTests
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";

    // Four runs on L = (10^13 / C)^0.1 (give or take a little), and one well above it that the fit leaves out.
    private static readonly (double X, double Loss, bool Fitted)[] Runs =
        [(2e6, 4.56, true), (3e7, 3.48, true), (5e8, 2.65, true), (8e9, 1.99, true), (4e7, 4.1, false)];

    private static readonly PowerLawFit Fit = PowerLawFit.Fit([.. Runs.Where(r => r.Fitted).Select(r => (r.X, r.Loss))]);

    private static readonly CurveFigure Figure = new("test: validation loss vs compute", ScalingQuantity.Compute,
        [.. Runs.Select(r => new CurvePoint(r.X, r.Loss, r.Fitted))], Fit);

    [Fact]
    public void SvgPlacesThePointsAndTheLineOnLogAxesTheTickLabelsDescribe()
    {
        var svg = Draw();

        Elements(svg, "rect", "axes").Should().ContainSingle();
        Texts(svg, "title").Single().Should().Be("test: validation loss vs compute");
        Texts(svg, "axis-title x").Single().Should().Contain("compute C (FLOPs)");
        Texts(svg, "axis-title y").Single().Should().Contain("loss").And.Contain("nats/token");
        Elements(svg, "line", "tick x minor").Should().NotBeEmpty("decades have minor ticks at 2…9");

        // The axes' scales as their labels tell them: pixel = a + b · log10(value), through the major ticks the labels stand at.
        var xTicks = Elements(svg, "line", "tick x major").Select(t => Attribute(t, "x1")).ToList();
        var yTicks = Elements(svg, "line", "tick y major").Select(t => Attribute(t, "y1")).ToList();
        var x = Scale(Elements(svg, "text", "tick-label x").Select(t => (Value(t), Nearest(xTicks, Attribute(t, "x")))).ToList());
        var y = Scale(Elements(svg, "text", "tick-label y").Select(t => (Value(t), Nearest(yTicks, Attribute(t, "y")))).ToList());
        Elements(svg, "text", "tick-label x").Select(Value).Should().Contain([1e7, 1e8, 1e9], "the x axis spans 2e6…8e9 and labels its decades");

        var points = Elements(svg, "circle", "point").Select(c => (X: x.Invert(Attribute(c, "cx")), Loss: y.Invert(Attribute(c, "cy")), Class: (string)c.Attribute("class")!)).ToList();
        points.Should().HaveCount(Runs.Length);
        foreach (var run in Runs)
        {
            points.Should().Contain(p => Math.Abs(p.X / run.X - 1) < 0.01 && Math.Abs(p.Loss / run.Loss - 1) < 0.01
                                         && p.Class == (run.Fitted ? "point fitted" : "point other"), $"the run at {run.X:e1}, {run.Loss} is drawn where it is");
        }

        var line = Elements(svg, "line", "fit").Single();
        foreach (var end in new[] { ("x1", "y1"), ("x2", "y2") })
        {
            var (at, loss) = (x.Invert(Attribute(line, end.Item1)), y.Invert(Attribute(line, end.Item2)));
            loss.Should().BeApproximately(Math.Pow(Fit.Scale / at, Fit.Alpha), loss * 0.01, "the line's ends lie on the fitted law");
        }
        (Attribute(line, "x2") - Attribute(line, "x1")).Should().BeGreaterThan(500, "the line spans the axis");

        var law = Elements(svg, "text", "legend-fit").Single();
        var exponent = (-Fit.Alpha).ToString("0.000", CultureInfo.InvariantCulture).Replace('-', '−');
        law.Elements(Svg + "tspan").Select(t => t.Value).Should().Equal($"L = (C / {Fit.Scale.ToString("0.00e0", CultureInfo.InvariantCulture)})", exponent);
        Fit.Alpha.Should().BeInRange(0.09, 0.11, "the runs lie near an exponent of 0.1");
        Texts(svg, "legend-r-squared").Single().Should().Be($"R2 = {Fit.RSquared.ToString("0.000", CultureInfo.InvariantCulture)}");
    }

    [Fact]
    public void PngShowsThePointsAndTheLineWhereTheSvgHasThem()
    {
        var svg = Draw();
        var canvas = new RasterCanvas(CurvePlot.Width, CurvePlot.Height, CurvePlot.Background);
        CurvePlot.Draw(canvas, Figure);
        var png = PngImage.Decode(canvas.ToPng());
        png.Channels.Should().Be(3, "the encoder writes 8-bit RGB");

        (png.Width, png.Height).Should().Be((CurvePlot.Width, CurvePlot.Height));
        png[3, 3].Should().Be(((byte)255, (byte)255, (byte)255), "the background is white");
        foreach (var circle in Elements(svg, "circle", "point"))
        {
            var (cx, cy) = ((int)Attribute(circle, "cx"), (int)Attribute(circle, "cy"));
            if ((string)circle.Attribute("class")! == "point fitted")
                png[cx, cy].Should().Be((CurvePlot.PointColour.R, CurvePlot.PointColour.G, CurvePlot.PointColour.B), "a fitted run is a filled circle");
            else
                png[cx, cy].Should().Be(((byte)255, (byte)255, (byte)255), "a run the fit left out is a hollow circle");
        }

        // Every strongly red pixel outside the legend lies on the fitted line, and there are as many as its length.
        var line = Elements(svg, "line", "fit").Single();
        var (from, to) = (new Point(Attribute(line, "x1"), Attribute(line, "y1")), new Point(Attribute(line, "x2"), Attribute(line, "y2")));
        var legend = Elements(svg, "rect", "legend").Single();
        var (left, top) = (Attribute(legend, "x"), Attribute(legend, "y"));
        var (right, bottom) = (left + Attribute(legend, "width"), top + Attribute(legend, "height"));
        var red = new List<Point>();
        for (var py = 0; py < png.Height; py++)
        for (var px = 0; px < png.Width; px++)
        {
            if (px >= left - 1 && px <= right + 1 && py >= top - 1 && py <= bottom + 1) continue;
            if (png[px, py] is var (r, g, b) && r > 150 && g < 110 && b < 110) red.Add(new Point(px + 0.5, py + 0.5));
        }
        red.Should().OnlyContain(p => Distance(p, from, to) <= 2.5);
        red.Count.Should().BeGreaterThan((int)(Distance(from, to) * 1.2), "the line is 2.5 px wide along its whole length, less what the points and legend cover");
    }

    private static XElement Draw()
    {
        var canvas = new SvgCanvas(CurvePlot.Width, CurvePlot.Height, CurvePlot.Background);
        CurvePlot.Draw(canvas, Figure);
        return XDocument.Parse(canvas.ToString()).Root!;
    }

    /// <summary>The elements whose class names all the words of <paramref name="role"/>: "point" finds "point fitted" and "point other".</summary>
    private static IEnumerable<XElement> Elements(XElement svg, string name, string role) =>
        svg.Descendants(Svg + name).Where(e => role.Split(' ').All(((string?)e.Attribute("class") ?? "").Split(' ').Contains));

    /// <summary>Text as read, exponents written flat after the base (R² reads "R2").</summary>
    private static IEnumerable<string> Texts(XElement svg, string role) => Elements(svg, "text", role).Select(t => t.Value);

    private static double Attribute(XElement element, string name) => double.Parse((string)element.Attribute(name)!, CultureInfo.InvariantCulture);

    /// <summary>A tick label's value: 10ⁿ, m×10ⁿ or a plain number; an exponent is a tspan raised by a negative dy.</summary>
    private static double Value(XElement label)
    {
        var spans = label.Elements(Svg + "tspan").ToList();
        var raised = spans.FindIndex(s => s.Attribute("dy") is { } dy && double.Parse(dy.Value, CultureInfo.InvariantCulture) < 0);
        if (raised < 0) return double.Parse(label.Value, CultureInfo.InvariantCulture);
        var exponent = int.Parse(spans[raised].Value.Replace('−', '-'), CultureInfo.InvariantCulture);
        var basis = string.Concat(spans.Take(raised).Select(s => s.Value));
        var mantissa = basis == "10" ? 1 : double.Parse(basis[..basis.IndexOf('×')], CultureInfo.InvariantCulture);
        return mantissa * Math.Pow(10, exponent);
    }

    /// <summary>The tick (a pixel position) closest to a label's: the tick it labels.</summary>
    private static double Nearest(List<double> ticks, double at)
    {
        var tick = ticks.MinBy(t => Math.Abs(t - at));
        Math.Abs(tick - at).Should().BeLessThan(10, "a label stands beside its tick");
        return tick;
    }

    private static LinearScale Scale(List<(double Value, double Pixel)> ticks)
    {
        ticks.Count.Should().BeGreaterThanOrEqualTo(2, "an axis labels at least two ticks");
        var logs = ticks.Select(t => Math.Log10(t.Value)).ToList();
        var (meanLog, meanPixel) = (logs.Average(), ticks.Average(t => t.Pixel));
        var slope = logs.Zip(ticks, (l, t) => (l - meanLog) * (t.Pixel - meanPixel)).Sum() / logs.Sum(l => (l - meanLog) * (l - meanLog));
        var scale = new LinearScale(meanPixel - slope * meanLog, slope);
        ticks.Should().OnlyContain(t => Math.Abs(scale.Pixel(t.Value) - t.Pixel) < 0.5, "the labelled ticks lie on one logarithmic scale");
        return scale;
    }

    private sealed record LinearScale(double Offset, double Slope)
    {
        public double Pixel(double value) => Offset + Slope * Math.Log10(value);

        public double Invert(double pixel) => Math.Pow(10, (pixel - Offset) / Slope);
    }
}
