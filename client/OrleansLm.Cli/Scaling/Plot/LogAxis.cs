using System.Globalization;

namespace OrleansLm.Cli.Scaling.Plot;

/// <summary>A tick on an axis: labelled (major) or not (minor).</summary>
public sealed record Tick(double Value, Label? Label)
{
    public bool IsMajor => Label is not null;
}

/// <summary>
/// A logarithmic axis over positive values: its range (the data's, widened by a margin) and its ticks. Over two decades
/// or more the decades are labelled 10ⁿ, with minor ticks at 2…9 × 10ⁿ; over less, the 1-2-5 multiples are labelled,
/// or, when fewer than two of those fall inside, evenly spaced round values with minor ticks between, since a loss often
/// spans less than a decade.
/// </summary>
public sealed class LogAxis
{
    private const double Margin = 0.06;
    private const double MinimumDecades = 0.02;
    private const int MostLabels = 7;

    public LogAxis(double smallest, double largest)
    {
        if (!(smallest > 0) || !(largest >= smallest) || double.IsInfinity(largest))
            throw new ArgumentException($"a log axis needs finite positive values, got [{smallest}, {largest}]");
        var (low, high) = (Math.Log10(smallest), Math.Log10(largest));
        var span = Math.Max(high - low, MinimumDecades);
        var middle = (low + high) / 2;
        LowDecades = middle - span * (0.5 + Margin);
        HighDecades = middle + span * (0.5 + Margin);
        Ticks = MakeTicks();
    }

    /// <summary>log10 of the axis's lowest value.</summary>
    public double LowDecades { get; }

    /// <summary>log10 of the axis's highest value.</summary>
    public double HighDecades { get; }

    public double Low => Math.Pow(10, LowDecades);

    public double High => Math.Pow(10, HighDecades);

    public IReadOnlyList<Tick> Ticks { get; }

    /// <summary>Where <paramref name="value"/> lies along the axis: 0 at its low end, 1 at its high end.</summary>
    public double Fraction(double value) => (Math.Log10(value) - LowDecades) / (HighDecades - LowDecades);

    private bool Inside(double value) => value > 0 && Math.Log10(value) is var decades && decades >= LowDecades - 1e-12 && decades <= HighDecades + 1e-12;

    private List<Tick> MakeTicks()
    {
        var first = (int)Math.Floor(LowDecades);
        var last = (int)Math.Floor(HighDecades);
        var decades = Enumerable.Range(first, last - first + 1).Where(n => Inside(Math.Pow(10, n))).ToList();
        var multiples = Enumerable.Range(first, last - first + 1)
            .SelectMany(n => Enumerable.Range(1, 9).Select(m => (Mantissa: m, Exponent: n)))
            .Where(v => Inside(Value(v.Mantissa, v.Exponent))).ToList();

        if (decades.Count >= 2)
        {
            var every = (decades.Count + MostLabels - 1) / MostLabels;
            var minor = decades.Count <= MostLabels ? multiples.Where(v => v.Mantissa > 1).Select(v => Value(v.Mantissa, v.Exponent)) : [];
            return [.. decades.Select(n => new Tick(Math.Pow(10, n), n % every == 0 ? Label.Power(n) : null))
                .Concat(minor.Select(value => new Tick(value, null)))];
        }

        var series = multiples.Where(v => v.Mantissa is 1 or 2 or 5).ToList();
        if (series.Count >= 2)
        {
            // Where the 1-2-5 multiples leave room (under half a decade), label every multiple.
            var labelled = series.Count <= 3 && multiples.Count <= MostLabels ? multiples : series;
            return [.. multiples.Select(v => new Tick(Value(v.Mantissa, v.Exponent),
                labelled.Contains(v) ? Multiple(v.Mantissa, v.Exponent) : null))];
        }

        var (low, high) = (Low, High);
        var step = RoundStep((high - low) / 5);
        // Minor ticks split a step of 1, 2.5 or 5 (× 10ⁿ) in fifths, one of 2 in quarters.
        var parts = Math.Abs(step / Math.Pow(10, Math.Floor(Math.Log10(step))) - 2) < 1e-9 ? 4 : 5;
        var ticks = new List<Tick>();
        for (var k = Math.Ceiling(low / step * parts); k * step / parts <= high; k++)
            ticks.Add(new Tick(k * step / parts, k % parts == 0 ? Round(k * step / parts, step) : null));
        return ticks;
    }

    private static double Value(int mantissa, int exponent) => mantissa * Math.Pow(10, exponent);

    /// <summary>m·10ⁿ as a plain number where that stays short (0.01 to 900), else as m×10ⁿ.</summary>
    private static Label Multiple(int mantissa, int exponent) => exponent is >= -2 and <= 2
        ? new Label(Value(mantissa, exponent).ToString("0.##", CultureInfo.InvariantCulture))
        : mantissa == 1 ? Label.Power(exponent) : Label.Power(exponent, mantissa.ToString(CultureInfo.InvariantCulture));

    /// <summary>A value on a grid of <paramref name="step"/>, with the decimals the step needs; scientific beyond 0.01…10⁴.</summary>
    private static Label Round(double value, double step)
    {
        var exponent = value is >= 0.01 and < 1e4 ? 0 : (int)Math.Floor(Math.Log10(value));
        var scale = Math.Pow(10, exponent);
        var decimals = 0;
        while (decimals < 8 && Math.Abs(step / scale * Math.Pow(10, decimals) - Math.Round(step / scale * Math.Pow(10, decimals))) > 1e-6) decimals++;
        var mantissa = (value / scale).ToString("F" + decimals, CultureInfo.InvariantCulture);
        return exponent == 0 ? new Label(mantissa) : Label.Power(exponent, mantissa);
    }

    /// <summary>The 1, 2, 2.5 or 5 × 10ⁿ nearest above <paramref name="rough"/>.</summary>
    private static double RoundStep(double rough)
    {
        var power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        return new[] { 1, 2, 2.5, 5, 10 }.Select(m => m * power).First(step => step >= rough * (1 - 1e-9));
    }
}
