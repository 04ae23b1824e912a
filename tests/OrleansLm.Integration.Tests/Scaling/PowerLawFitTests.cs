using FsCheck;
using FsCheck.Fluent;
using OrleansLm.Cli.Scaling;

namespace OrleansLm.Integration.Tests.Scaling;

public sealed class PowerLawFitTests
{
    [Fact]
    public void RecoversTheExponentAndScaleOfExactPowerLaws()
    {
        // α in [0.01, 1], X_c in 10^4…10^15, 2 to 30 points spread over 0.5 to 8 decades from 10^(0…6).
        var laws = from alpha in Gen.Choose(1, 100).Select(a => a / 100.0)
                   from scaleDecades in Gen.Choose(40, 150).Select(d => d / 10.0)
                   from count in Gen.Choose(2, 30)
                   from firstDecade in Gen.Choose(0, 60).Select(d => d / 10.0)
                   from span in Gen.Choose(5, 80).Select(d => d / 10.0)
                   select (alpha, scaleDecades, count, firstDecade, span);

        Prop.ForAll(laws.ToArbitrary(), law =>
        {
            var (alpha, scaleDecades, count, firstDecade, span) = law;
            var points = Enumerable.Range(0, count)
                .Select(i => Math.Pow(10, firstDecade + span * i / (count - 1)))
                .Select(x => (x, Math.Pow(Math.Pow(10, scaleDecades) / x, alpha))).ToList();
            var fit = PowerLawFit.Fit(points);
            return Math.Abs(fit.Alpha - alpha) < 1e-9
                   && Math.Abs(Math.Log10(fit.Scale) - scaleDecades) < 1e-6
                   && fit.RSquared > 1 - 1e-9
                   && fit.Points == count;
        }).Check(Config.QuickThrowOnFailure.WithMaxTest(200));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    public void WithMultiplicativeNoiseTheExponentLiesWithinItsStandardError(int seed)
    {
        // Kaplan et al.'s L(N): α_N = 0.076, N_c = 8.8e13; noise of 2 % in the loss, 40 runs over 10^6…10^10.
        const double alpha = 0.076, scale = 8.8e13, sigma = 0.02;
        var random = new Random(seed);
        var xs = Enumerable.Range(0, 40).Select(_ => Math.Pow(10, 6 + 4 * random.NextDouble())).ToList();
        var points = xs.Select(x => (x, Math.Pow(scale / x, alpha) * Math.Exp(sigma * Normal(random)))).ToList();

        var fit = PowerLawFit.Fit(points);

        // Least squares' standard error of a slope: σ / √Σ(ln x − mean)².
        var logs = xs.Select(x => Math.Log(x)).ToList();
        var standardError = sigma / Math.Sqrt(logs.Sum(l => (l - logs.Average()) * (l - logs.Average())));
        fit.Alpha.Should().BeApproximately(alpha, 4 * standardError);
        fit.RSquared.Should().BeInRange(0.9, 1 - 1e-6, "noise leaves some variance unexplained, the law most of it");
        // The loss the fit predicts in the middle of the range carries the noise divided by √n, not the slope's error times the decades.
        fit.Loss(1e8).Should().BeApproximately(Math.Pow(scale / 1e8, alpha), Math.Pow(scale / 1e8, alpha) * 4 * sigma / Math.Sqrt(40) * 1.5);
    }

    [Fact]
    public void RSquaredDropsForDataThatIsNoPowerLaw()
    {
        var xs = Enumerable.Range(0, 30).Select(i => Math.Pow(10, 2 + 6.0 * i / 29)).ToList();
        var powerLaw = PowerLawFit.Fit([.. xs.Select(x => (x, 3 * Math.Pow(x, -0.1)))]);
        // A loss that wanders up and down across the decades.
        var wavy = PowerLawFit.Fit([.. xs.Select(x => (x, 2 + Math.Sin(Math.Log(x))))]);
        // An irreducible loss: a power law plus a constant bends away from a line in log-log space.
        var bent = PowerLawFit.Fit([.. xs.Select(x => (x, 1.7 + Math.Pow(1e4 / x, 0.5)))]);

        powerLaw.RSquared.Should().BeGreaterThan(0.999999);
        wavy.RSquared.Should().BeLessThan(0.5);
        bent.RSquared.Should().BeLessThan(powerLaw.RSquared - 0.05);
    }

    [Fact]
    public void RefusesWhatItCannotFit()
    {
        var one = () => PowerLawFit.Fit([(10.0, 2.0)]);
        one.Should().Throw<ArgumentException>().WithMessage("*at least 2 points*");
        var flat = () => PowerLawFit.Fit([(10.0, 2.0), (10.0, 3.0)]);
        flat.Should().Throw<ArgumentException>().WithMessage("*does not vary*");
        var negative = () => PowerLawFit.Fit([(10.0, 2.0), (100.0, -1.0)]);
        negative.Should().Throw<ArgumentException>().WithMessage("*finite positive*");
    }

    private static double Normal(Random random) =>
        Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
}
