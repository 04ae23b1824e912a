using System.Globalization;
using System.Text.Json;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Every optimizer case of <see cref="OptimizerCases"/> must follow torch.optim's parameter trajectory
/// (float64, 20 steps, including learning-rate changes and clip_grad_norm_) to <see cref="Tolerance"/>.
/// parity/optim_parity.py runs all cases in one /usr/bin/python3 process.
/// </summary>
[Collection(NativeStateCollection.Name)]
public class OptimizerParityTests(OptimizerParityTests.Reference reference) : IClassFixture<OptimizerParityTests.Reference>
{
    public const double Tolerance = 1e-6;

    public static TheoryData<string> CaseNames => new(OptimizerCases.All.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void TrajectoryMatchesTorchOptim(string name)
    {
        var expected = reference.ResultFor(name);
        using var run = new OptimizerRun(OptimizerCases.All.Single(c => c.Name == name));
        var trajectory = run.Run(0, OptimizerCases.StepCount);

        var failures = new List<string>();
        for (var t = 0; t < trajectory.Count; t++)
            for (var i = 0; i < trajectory[t].Length; i++)
                failures.AddRange(Compare($"step {t + 1}, parameter {i}", trajectory[t][i], expected.Trajectory[t][i]));
        failures.AddRange(Compare("clip_grad_norm_ totals", [.. run.Norms], expected.Norms));
        failures.Should().BeEmpty($"case '{name}' should follow torch {reference.TorchVersion}'s trajectory to {Tolerance}");
    }

    [Fact]
    public void ReferenceRanEveryCaseOnTheSameLibtorchRelease()
    {
        reference.Error.Should().BeNull();
        static string MajorMinor(string version) => string.Join('.', version.Split('.').Take(2));
        MajorMinor(reference.TorchVersion).Should().Be(MajorMinor(LibTorch.Version));
        reference.Results.Keys.Should().BeEquivalentTo(OptimizerCases.All.Select(c => c.Name));
        foreach (var (name, result) in reference.Results)
        {
            var initial = OptimizerCases.All.Single(c => c.Name == name).Initial.SelectMany(p => p);
            var final = result.Trajectory[^1].SelectMany(p => p).ToArray();
            final.Should().OnlyContain(v => double.IsFinite(v));
            final.Zip(initial).Max(x => Math.Abs(x.First - x.Second)).Should().BeGreaterThan(1e-2, $"case '{name}' should move its parameters");
        }
    }

    [Fact]
    public void ComparisonDetectsADeviationJustAboveTheTolerance()
    {
        double[] expected = [0.5, -1.25];
        Compare("p", [0.5, -1.25 + 0.9 * Tolerance], expected).Should().BeEmpty();
        Compare("p", [0.5, -1.25 + 1.1 * Tolerance], expected).Should().ContainSingle().Which.Should().Contain("p[1]");
        Compare("p", [0.5], expected).Should().ContainSingle().Which.Should().Contain("length");
    }

    private static List<string> Compare(string what, double[] actual, double[] expected)
    {
        if (actual.Length != expected.Length) return [$"{what}: length {actual.Length}, torch's {expected.Length}"];
        var failures = new List<string>();
        for (var k = 0; k < actual.Length; k++)
            if (!(Math.Abs(actual[k] - expected[k]) <= Tolerance))
                failures.Add(string.Create(CultureInfo.InvariantCulture, $"{what}[{k}]: ours {actual[k]:R}, torch's {expected[k]:R}"));
        return failures;
    }

    public sealed record ReferenceResult(double[][][] Trajectory, double[] Norms);

    /// <summary>Runs optim_parity.py once over every case; a failure to do so is kept and reported by each test.</summary>
    public sealed class Reference
    {
        private readonly Dictionary<string, string> caseErrors = [];

        public Reference()
        {
            Error = PythonReference.Run("optim_parity.py", OptimizerCases.ToJson().ToJsonString(), out var output);
            if (Error is not null) return;
            try
            {
                Parse(output);
            }
            catch (Exception e) when (e is JsonException or InvalidOperationException or KeyNotFoundException)
            {
                Error = $"reading optim_parity.py's results failed: {e}";
            }
        }

        public string? Error { get; }

        public string TorchVersion { get; private set; } = "";

        public Dictionary<string, ReferenceResult> Results { get; } = [];

        public ReferenceResult ResultFor(string name)
        {
            Error.Should().BeNull("PyTorch reference results are required for parity tests");
            caseErrors.TryGetValue(name, out var caseError);
            caseError.Should().BeNull($"optim_parity.py should run case '{name}'");
            return Results[name];
        }

        private void Parse(string json)
        {
            using var document = JsonDocument.Parse(json);
            TorchVersion = document.RootElement.GetProperty("torch_version").GetString() ?? "";
            static double[] Numbers(JsonElement e) => [.. e.EnumerateArray().Select(v => v.GetDouble())];
            foreach (var entry in document.RootElement.GetProperty("results").EnumerateObject())
            {
                if (entry.Value.TryGetProperty("error", out var error))
                {
                    caseErrors[entry.Name] = error.GetString() ?? "unknown error";
                    continue;
                }
                Results[entry.Name] = new ReferenceResult(
                    [.. entry.Value.GetProperty("trajectory").EnumerateArray().Select(step => step.EnumerateArray().Select(Numbers).ToArray())],
                    Numbers(entry.Value.GetProperty("norms")));
            }
        }
    }
}
