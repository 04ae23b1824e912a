using System.Globalization;
using System.Text;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Test classes that create native tensors or read process-wide state (LiveTensorCount, VmRSS) run in
/// this collection. DisableParallelization makes xunit run it after the parallel collections and on its
/// own, so no other test creates or frees tensors while one of these counts them.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NativeStateCollection
{
    public const string Name = "native tensors (process-wide counters)";
}

/// <summary>A float64 input of a gradient check: its name (for reports), values (row-major) and shape.</summary>
public sealed record GradInput(string Name, double[] Values, long[] Shape)
{
    public GradInput(string name, long[] shape, Func<int, double> value)
        : this(name, Enumerable.Range(0, (int)shape.Aggregate(1L, (a, b) => a * b)).Select(value).ToArray(), shape)
    {
    }
}

/// <summary>One element whose autograd gradient disagrees with the central difference.</summary>
public sealed record GradMismatch(string Input, int Index, double Analytic, double Numeric)
{
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture,
            $"{Input}[{Index}]: autograd {Analytic:R}, finite difference {Numeric:R}, |diff| {Math.Abs(Analytic - Numeric):E3}");
}

public sealed class GradCheckResult
{
    internal GradCheckResult(IReadOnlyList<GradMismatch> mismatches, IReadOnlyList<string> problems, int checkedElements, double maxAbsDifference)
    {
        Mismatches = mismatches;
        Problems = problems;
        CheckedElements = checkedElements;
        MaxAbsDifference = maxAbsDifference;
    }

    /// <summary>Elements whose gradient is outside the tolerance.</summary>
    public IReadOnlyList<GradMismatch> Mismatches { get; }

    /// <summary>Structural failures: no gradient reached an input, wrong gradient shape or dtype, ...</summary>
    public IReadOnlyList<string> Problems { get; }

    public int CheckedElements { get; }

    public double MaxAbsDifference { get; }

    public bool Passed => Mismatches.Count == 0 && Problems.Count == 0 && CheckedElements > 0;

    public override string ToString()
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{CheckedElements} gradient elements checked, max |autograd - finite difference| = {MaxAbsDifference:E3}");
        foreach (var problem in Problems) text.Append("\n  problem: ").Append(problem);
        foreach (var mismatch in Mismatches.Take(20)) text.Append("\n  mismatch: ").Append(mismatch);
        if (Mismatches.Count > 20) text.Append(CultureInfo.InvariantCulture, $"\n  ... and {Mismatches.Count - 20} more mismatches");
        return text.ToString();
    }
}

/// <summary>
/// Finite-difference gradient check in float64. For f(inputs) = y and a fixed random weighting w (|w| in [0.5, 1.5]) of y's
/// shape, L = Σ y·w. The analytic gradient of L comes from libtorch's autograd (L = (y * w).Sum() then
/// Backward()); the numeric one from central differences (L(x + ε) − L(x − ε)) / 2ε, where L is
/// evaluated under NoGrad with the weighted sum formed in managed code, independent of the library.
/// An element passes when |analytic − numeric| ≤ atol + rtol · max(|analytic|, |numeric|).
/// </summary>
public static class GradCheck
{
    public const double DefaultEpsilon = 1e-6;
    public const double DefaultAbsoluteTolerance = 1e-6;
    public const double DefaultRelativeTolerance = 1e-6;

    public static GradCheckResult Run(
        Func<IReadOnlyList<Tensor>, Tensor> function,
        IReadOnlyList<GradInput> inputs,
        int weightSeed = 20240601,
        double epsilon = DefaultEpsilon,
        double absoluteTolerance = DefaultAbsoluteTolerance,
        double relativeTolerance = DefaultRelativeTolerance)
    {
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(inputs);
        var problems = new List<string>();
        var mismatches = new List<GradMismatch>();

        // ---- analytic: autograd of L = sum(y * w) ----
        long[] outputShape;
        double[] weights;
        var analytic = new double[inputs.Count][];
        using (DisposeScope.Enter())
        {
            var leaves = inputs.Select(i => Tensor.FromArray<double>(i.Values, i.Shape, requiresGrad: true)).ToArray();
            var y = function(leaves);
            if (y.DType != ScalarType.Float64)
                problems.Add($"the function returned a {y.DType} tensor; gradient checks need Float64");
            outputShape = y.Shape;
            var random = new Random(weightSeed);
            weights = new double[y.NumElements];
            // |w| in [0.5, 1.5]: no element's gradient error is hidden behind a near-zero weight.
            for (var k = 0; k < weights.Length; k++) weights[k] = (random.Next(2) == 0 ? -1 : 1) * (0.5 + random.NextDouble());
            var w = Tensor.FromArray<double>(weights, outputShape);
            var loss = (y * w).Sum();
            loss.Backward();
            for (var i = 0; i < inputs.Count; i++)
            {
                var grad = leaves[i].Grad;
                if (grad is null)
                {
                    problems.Add($"no gradient reached input '{inputs[i].Name}'");
                    continue;
                }
                if (!grad.Shape.SequenceEqual(inputs[i].Shape))
                {
                    problems.Add($"gradient of '{inputs[i].Name}' has shape [{string.Join(", ", grad.Shape)}], input has [{string.Join(", ", inputs[i].Shape)}]");
                    continue;
                }
                if (grad.DType != ScalarType.Float64)
                {
                    problems.Add($"gradient of '{inputs[i].Name}' is {grad.DType}");
                    continue;
                }
                analytic[i] = grad.ToArray<double>();
            }
        }
        if (problems.Count > 0) return new GradCheckResult(mismatches, problems, 0, double.NaN);

        // ---- numeric: central differences, one element at a time ----
        var values = inputs.Select(i => (double[])i.Values.Clone()).ToArray();
        var checkedElements = 0;
        var maxDifference = 0.0;
        for (var i = 0; i < inputs.Count; i++)
        {
            for (var j = 0; j < values[i].Length; j++)
            {
                var original = values[i][j];
                values[i][j] = original + epsilon;
                var plus = WeightedOutput(function, inputs, values, outputShape, weights, problems);
                values[i][j] = original - epsilon;
                var minus = WeightedOutput(function, inputs, values, outputShape, weights, problems);
                values[i][j] = original;
                if (problems.Count > 0) return new GradCheckResult(mismatches, problems, checkedElements, double.NaN);

                var numeric = (plus - minus) / (2 * epsilon);
                var a = analytic[i][j];
                var difference = Math.Abs(a - numeric);
                checkedElements++;
                if (!(difference <= maxDifference)) maxDifference = difference;
                if (!(difference <= absoluteTolerance + relativeTolerance * Math.Max(Math.Abs(a), Math.Abs(numeric))))
                    mismatches.Add(new GradMismatch(inputs[i].Name, j, a, numeric));
            }
        }
        return new GradCheckResult(mismatches, problems, checkedElements, maxDifference);
    }

    private static double WeightedOutput(
        Func<IReadOnlyList<Tensor>, Tensor> function,
        IReadOnlyList<GradInput> inputs,
        double[][] values,
        long[] outputShape,
        double[] weights,
        List<string> problems)
    {
        using var scope = DisposeScope.Enter();
        using var noGrad = LibTorch.NoGrad();
        var tensors = new Tensor[inputs.Count];
        for (var i = 0; i < tensors.Length; i++) tensors[i] = Tensor.FromArray<double>(values[i], inputs[i].Shape);
        var y = function(tensors);
        if (!y.Shape.SequenceEqual(outputShape))
        {
            problems.Add($"the output shape changed under perturbation: [{string.Join(", ", y.Shape)}] vs [{string.Join(", ", outputShape)}]");
            return double.NaN;
        }
        var output = y.ToArray<double>();
        var sum = 0.0;
        for (var k = 0; k < output.Length; k++) sum += output[k] * weights[k];
        return sum;
    }
}
