using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Compares outputs and gradients of our ops with PyTorch's on identical inputs. The inputs come from a
/// seeded System.Random here; parity/torch_parity.py evaluates the same cases with Debian's
/// /usr/bin/python3 + python3-torch (one process for all cases, run by <see cref="Reference"/>) and the
/// results travel back as JSON. Each side forms L = Σ output·weight with the same weights and backpropagates.
/// </summary>
[Collection(NativeStateCollection.Name)]
public class TorchParityTests(TorchParityTests.Reference reference) : IClassFixture<TorchParityTests.Reference>
{
    /// <summary>Element-wise bound: |ours − torch| ≤ Tolerance + Tolerance·|torch|.</summary>
    public const double Tolerance = 1e-5;

    public static TheoryData<string> CaseNames => new(ParityCases.All.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void OutputsAndGradientsMatchPyTorch(string name)
    {
        var expected = reference.ResultFor(name);
        var testCase = ParityCases.All.Single(c => c.Name == name);

        using var scope = DisposeScope.Enter();
        var tensors = testCase.Inputs.ToDictionary(i => i.Name, i => i.ToTensor());
        var outputs = testCase.Compute(tensors);
        outputs.Keys.Should().BeEquivalentTo(testCase.Weights.Select(w => w.Name));
        Tensor? loss = null;
        foreach (var weight in testCase.Weights)
        {
            var w = weight.ToTensor(testCase.DType);
            var term = (outputs[weight.Name] * w).Sum();
            loss = loss is null ? term : loss + term;
        }
        loss!.Backward();

        var failures = new List<string>();
        foreach (var (outputName, output) in outputs)
            failures.AddRange(Compare($"output '{outputName}'", output, expected.Outputs[outputName]));
        foreach (var input in testCase.Inputs.Where(i => i.RequiresGrad))
        {
            var grad = tensors[input.Name].Grad;
            var torchGrad = expected.Grads[input.Name];
            if (grad is null || torchGrad is null)
            {
                if (grad is not null || torchGrad is not null)
                    failures.Add($"gradient of '{input.Name}': ours {(grad is null ? "missing" : "present")}, torch's {(torchGrad is null ? "missing" : "present")}");
                continue;
            }
            failures.AddRange(Compare($"gradient of '{input.Name}'", grad, torchGrad));
        }

        failures.Should().BeEmpty($"case '{name}' should match PyTorch {reference.TorchVersion} to {Tolerance}");
    }

    [Fact]
    public void ReferenceRunsTheSameLibtorchRelease()
    {
        reference.Error.Should().BeNull();
        static string MajorMinor(string version) => string.Join('.', version.Split('.').Take(2));
        MajorMinor(reference.TorchVersion).Should().Be(MajorMinor(LibTorch.Version),
            "parity is only meaningful against the libtorch release the shim was built with");
        reference.Results.Keys.Should().BeEquivalentTo(ParityCases.All.Select(c => c.Name));
    }

    [Fact]
    public void ComparisonDetectsADifferenceJustAboveTheTolerance()
    {
        var expected = reference.ResultFor("matmul_f64").Outputs["y"];
        var testCase = ParityCases.All.Single(c => c.Name == "matmul_f64");
        using var scope = DisposeScope.Enter();
        var tensors = testCase.Inputs.ToDictionary(i => i.Name, i => i.ToTensor());
        var y = testCase.Compute(tensors)["y"];
        Compare("y", y, expected).Should().BeEmpty();

        var perturbed = (double[])expected.Data.Clone();
        perturbed[3] += 3 * Tolerance * (1 + Math.Abs(perturbed[3]));
        Compare("y", y, expected with { Data = perturbed }).Should().ContainSingle().Which.Should().Contain("y[3]");
        Compare("y", y, expected with { Shape = [.. expected.Shape.Reverse()] }).Should().ContainSingle().Which.Should().Contain("shape");
    }

    internal static List<string> Compare(string what, Tensor actual, ReferenceTensor expected)
    {
        var failures = new List<string>();
        if (!actual.Shape.SequenceEqual(expected.Shape))
        {
            failures.Add($"{what}: shape [{string.Join(", ", actual.Shape)}], torch's [{string.Join(", ", expected.Shape)}]");
            return failures;
        }
        var values = actual.DType == ScalarType.Float32
            ? Array.ConvertAll(actual.ToArray<float>(), v => (double)v)
            : actual.ToArray<double>();
        for (var k = 0; k < values.Length; k++)
        {
            var difference = Math.Abs(values[k] - expected.Data[k]);
            if (!(difference <= Tolerance + Tolerance * Math.Abs(expected.Data[k])))
                failures.Add(string.Create(CultureInfo.InvariantCulture,
                    $"{what}[{k}]: ours {values[k]:R}, torch's {expected.Data[k]:R} (|diff| {difference:E2})"));
        }
        return failures;
    }

    // ---- reference results ----

    public sealed record ReferenceTensor(long[] Shape, double[] Data);

    public sealed record ReferenceResult(
        IReadOnlyDictionary<string, ReferenceTensor> Outputs, IReadOnlyDictionary<string, ReferenceTensor?> Grads);

    /// <summary>Runs torch_parity.py once over every case; a failure to do so is kept and reported by each test.</summary>
    public sealed class Reference
    {
        public Reference()
        {
            try
            {
                Error = PythonReference.Run("torch_parity.py", ParityCases.ToJson().ToJsonString(), out var output);
                if (Error is null) Parse(output);
            }
            catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or KeyNotFoundException)
            {
                Error = $"reading the parity script's results failed: {e}";
            }
        }

        /// <summary>Why the reference results are unavailable, or null.</summary>
        public string? Error { get; }

        public string TorchVersion { get; private set; } = "";

        public Dictionary<string, ReferenceResult> Results { get; } = [];

        private Dictionary<string, string> CaseErrors { get; } = [];

        public ReferenceResult ResultFor(string name)
        {
            Error.Should().BeNull("PyTorch reference results are required for parity tests");
            CaseErrors.TryGetValue(name, out var caseError);
            caseError.Should().BeNull($"torch_parity.py should evaluate case '{name}'");
            Results.Should().ContainKey(name);
            return Results[name];
        }

        private void Parse(string json)
        {
            using var document = JsonDocument.Parse(json);
            var root = document.RootElement;
            TorchVersion = root.GetProperty("torch_version").GetString() ?? "";
            foreach (var entry in root.GetProperty("results").EnumerateObject())
            {
                if (entry.Value.TryGetProperty("error", out var error))
                {
                    CaseErrors[entry.Name] = error.GetString() ?? "unknown error";
                    continue;
                }
                var outputs = entry.Value.GetProperty("outputs").EnumerateObject().ToDictionary(o => o.Name, o => ReadTensor(o.Value));
                var grads = entry.Value.GetProperty("grads").EnumerateObject()
                    .ToDictionary(g => g.Name, g => g.Value.ValueKind == JsonValueKind.Null ? null : ReadTensor(g.Value));
                Results[entry.Name] = new ReferenceResult(outputs, grads);
            }
        }

        internal static ReferenceTensor ReadTensor(JsonElement element) => new(
            element.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
            element.GetProperty("data").EnumerateArray().Select(e => e.GetDouble()).ToArray());
    }
}

/// <summary>The parity cases: inputs generated from one seeded Random, the op's parameters, and our computation.</summary>
internal static class ParityCases
{
    internal sealed record Input(string Name, long[] Shape, double[] Data, ScalarType DType, bool RequiresGrad)
    {
        public Tensor ToTensor() => DType switch
        {
            ScalarType.Int64 => Tensor.FromArray<long>(Array.ConvertAll(Data, v => (long)v), Shape),
            ScalarType.Float32 => Tensor.FromArray<float>(Array.ConvertAll(Data, v => (float)v), Shape, requiresGrad: RequiresGrad),
            _ => Tensor.FromArray<double>(Data, Shape, requiresGrad: RequiresGrad),
        };

        public JsonObject ToJson() => new()
        {
            ["dtype"] = DTypeName(DType),
            ["shape"] = new JsonArray([.. Shape.Select(s => JsonValue.Create(s))]),
            ["data"] = new JsonArray([.. Data.Select(v => JsonValue.Create(v))]),
            ["requires_grad"] = RequiresGrad,
        };
    }

    internal sealed record Weight(string Name, long[] Shape, double[] Data)
    {
        public Tensor ToTensor(ScalarType dtype) => new Input(Name, Shape, Data, dtype, false).ToTensor();
    }

    internal sealed record Case(
        string Name,
        string Op,
        ScalarType DType,
        Input[] Inputs,
        JsonObject Params,
        Weight[] Weights,
        Func<IReadOnlyDictionary<string, Tensor>, IReadOnlyDictionary<string, Tensor>> Compute);

    public static IReadOnlyList<Case> All { get; } = Build();

    public static JsonObject ToJson() => new()
    {
        ["cases"] = new JsonArray([.. All.Select(c => (JsonNode)new JsonObject
        {
            ["name"] = c.Name,
            ["op"] = c.Op,
            ["dtype"] = DTypeName(c.DType),
            ["params"] = c.Params.DeepClone(),
            ["inputs"] = new JsonObject(c.Inputs.Select(i => KeyValuePair.Create(i.Name, (JsonNode?)i.ToJson()))),
            ["weights"] = new JsonObject(c.Weights.Select(w => KeyValuePair.Create(w.Name, (JsonNode?)new JsonObject
            {
                ["shape"] = new JsonArray([.. w.Shape.Select(s => JsonValue.Create(s))]),
                ["data"] = new JsonArray([.. w.Data.Select(v => JsonValue.Create(v))]),
            }))),
        })]),
    };

    private static string DTypeName(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "float32",
        ScalarType.Float64 => "float64",
        ScalarType.Int64 => "int64",
        _ => throw new ArgumentOutOfRangeException(nameof(dtype)),
    };

    private static IReadOnlyList<Case> Build()
    {
        var random = new Random(20240611);
        var cases = new List<Case>();

        // Values representable exactly in the case's dtype, so both sides start from identical inputs.
        Input Floats(string name, ScalarType dtype, long[] shape, double scale = 2)
        {
            var data = new double[shape.Aggregate(1L, (a, b) => a * b)];
            for (var k = 0; k < data.Length; k++)
            {
                var v = scale * (2 * random.NextDouble() - 1);
                data[k] = dtype == ScalarType.Float32 ? (float)v : v;
            }
            return new Input(name, shape, data, dtype, RequiresGrad: true);
        }

        Input Indices(string name, long[] shape, long[] values) => new(name, shape, [.. values.Select(v => (double)v)], ScalarType.Int64, false);

        Input RandomIndices(string name, long[] shape, int high)
        {
            var values = new long[shape.Aggregate(1L, (a, b) => a * b)];
            for (var k = 0; k < values.Length; k++) values[k] = random.Next(high);
            return Indices(name, shape, values);
        }

        Weight WeightFor(string name, ScalarType dtype, long[] shape)
        {
            var input = Floats(name, dtype, shape, scale: 1);
            return new Weight(name, shape, input.Data);
        }

        void Add(string name, string op, ScalarType dtype, Input[] inputs, JsonObject parameters, (string Name, long[] Shape)[] outputs,
            Func<IReadOnlyDictionary<string, Tensor>, IReadOnlyDictionary<string, Tensor>> compute) =>
            cases.Add(new Case(name, op, dtype, inputs, parameters, [.. outputs.Select(o => WeightFor(o.Name, dtype, o.Shape))], compute));

        static Dictionary<string, Tensor> Y(Tensor y) => new() { ["y"] = y };

        const ScalarType F32 = ScalarType.Float32;
        const ScalarType F64 = ScalarType.Float64;

        // ---- matmul ----
        Add("matmul_f32", "matmul", F32, [Floats("a", F32, [3, 4]), Floats("b", F32, [4, 5])], [], [("y", [3, 5])],
            t => Y(t["a"].Matmul(t["b"])));
        Add("matmul_batched_f32", "matmul", F32, [Floats("a", F32, [2, 3, 4]), Floats("b", F32, [4, 5])], [], [("y", [2, 3, 5])],
            t => Y(t["a"].Matmul(t["b"])));
        Add("matmul_f64", "matmul", F64, [Floats("a", F64, [3, 4]), Floats("b", F64, [4, 2])], [], [("y", [3, 2])],
            t => Y(t["a"].Matmul(t["b"])));

        // ---- softmax, log_softmax ----
        foreach (var (op, dim) in new[] { ("softmax", -1L), ("softmax", 0L), ("log_softmax", -1L), ("log_softmax", 0L) })
        {
            var d = dim;
            Add($"{op}_dim{dim}", op, F32, [Floats("x", F32, [4, 6], scale: 3)], new JsonObject { ["dim"] = dim }, [("y", [4, 6])],
                op == "softmax" ? t => Y(t["x"].Softmax(d)) : t => Y(t["x"].LogSoftmax(d)));
        }
        Add("log_softmax_dim1_f64", "log_softmax", F64, [Floats("x", F64, [2, 5, 3], scale: 3)], new JsonObject { ["dim"] = 1 }, [("y", [2, 5, 3])],
            t => Y(t["x"].LogSoftmax(1)));

        // ---- cross entropy ----
        void CrossEntropy(string name, Reduction reduction, long[] target, long ignoreIndex = -100, double smoothing = 0, ScalarType dtype = F32)
        {
            long[] outputShape = reduction == Reduction.None ? [target.Length] : [];
            Add(name, "cross_entropy", dtype, [Floats("logits", dtype, [target.Length, 5], scale: 3), Indices("target", [target.Length], target)],
                new JsonObject
                {
                    ["reduction"] = reduction.ToString().ToLowerInvariant(),
                    ["ignore_index"] = ignoreIndex,
                    ["label_smoothing"] = smoothing,
                },
                [("y", outputShape)],
                t => Y(Functional.CrossEntropy(t["logits"], t["target"], reduction, ignoreIndex, smoothing)));
        }
        long[] targets = [.. Enumerable.Range(0, 6).Select(_ => (long)random.Next(5))];
        CrossEntropy("cross_entropy_mean", Reduction.Mean, targets);
        CrossEntropy("cross_entropy_sum", Reduction.Sum, targets);
        CrossEntropy("cross_entropy_none", Reduction.None, targets);
        CrossEntropy("cross_entropy_mean_f64", Reduction.Mean, targets, dtype: F64);
        CrossEntropy("cross_entropy_ignore_index", Reduction.Mean, [3, -100, 0, 4, -100, 1]);
        CrossEntropy("cross_entropy_custom_ignore_index_none", Reduction.None, [2, 2, 0, 4, 1, 2], ignoreIndex: 2);
        CrossEntropy("cross_entropy_label_smoothing", Reduction.Mean, targets, smoothing: 0.1);
        CrossEntropy("cross_entropy_label_smoothing_sum_ignore", Reduction.Sum, [2, 2, 0, 4, 1, 3], ignoreIndex: 2, smoothing: 0.2);
        CrossEntropy("cross_entropy_label_smoothing_mean_ignore", Reduction.Mean, [1, -100, 0, 4, -100, 3], smoothing: 0.3);

        // ---- layer norm ----
        Add("layer_norm", "layer_norm", F32, [Floats("x", F32, [2, 3, 8], scale: 3), Floats("weight", F32, [8]), Floats("bias", F32, [8])],
            new JsonObject { ["normalized_shape"] = new JsonArray(8), ["eps"] = 1e-5 }, [("y", [2, 3, 8])],
            t => Y(Functional.LayerNorm(t["x"], [8], t["weight"], t["bias"], 1e-5)));
        Add("layer_norm_2d_no_affine", "layer_norm", F32, [Floats("x", F32, [2, 3, 4], scale: 3)],
            new JsonObject { ["normalized_shape"] = new JsonArray(3, 4), ["eps"] = 1e-3 }, [("y", [2, 3, 4])],
            t => Y(Functional.LayerNorm(t["x"], [3, 4], eps: 1e-3)));
        Add("layer_norm_f64", "layer_norm", F64, [Floats("x", F64, [4, 6], scale: 3), Floats("weight", F64, [6]), Floats("bias", F64, [6])],
            new JsonObject { ["normalized_shape"] = new JsonArray(6), ["eps"] = 1e-5 }, [("y", [4, 6])],
            t => Y(Functional.LayerNorm(t["x"], [6], t["weight"], t["bias"])));

        // ---- embedding ----
        Add("embedding", "embedding", F32, [Floats("weight", F32, [10, 4]), RandomIndices("indices", [2, 3], 10)],
            new JsonObject { ["padding_idx"] = -1 }, [("y", [2, 3, 4])],
            t => Y(Functional.Embedding(t["weight"], t["indices"])));
        Add("embedding_repeated_indices", "embedding", F32, [Floats("weight", F32, [5, 3]), Indices("indices", [7], [4, 1, 4, 4, 0, 1, 2])],
            new JsonObject { ["padding_idx"] = -1 }, [("y", [7, 3])],
            t => Y(Functional.Embedding(t["weight"], t["indices"])));
        Add("embedding_padding_index", "embedding", F32, [Floats("weight", F32, [6, 3]), Indices("indices", [2, 4], [0, 3, 0, 5, 2, 0, 3, 1])],
            new JsonObject { ["padding_idx"] = 0 }, [("y", [2, 4, 3])],
            t => Y(Functional.Embedding(t["weight"], t["indices"], paddingIndex: 0)));

        // ---- LSTM step composed from primitives vs torch.nn.LSTMCell ----
        void Lstm(string name, ScalarType dtype, int batch, int inputSize, int hidden)
        {
            Add(name, "lstm_cell", dtype,
                [
                    Floats("x", dtype, [batch, inputSize]), Floats("h", dtype, [batch, hidden], 1), Floats("c", dtype, [batch, hidden], 1),
                    Floats("w_ih", dtype, [4 * hidden, inputSize], 0.6), Floats("w_hh", dtype, [4 * hidden, hidden], 0.6),
                    Floats("b_ih", dtype, [4 * hidden], 0.5), Floats("b_hh", dtype, [4 * hidden], 0.5),
                ],
                [], [("h", [batch, hidden]), ("c", [batch, hidden])],
                t => LstmStep(t["x"], t["h"], t["c"], t["w_ih"], t["w_hh"], t["b_ih"], t["b_hh"]));
        }
        Lstm("lstm_step_f32", F32, batch: 3, inputSize: 5, hidden: 4);
        Lstm("lstm_step_f64", F64, batch: 2, inputSize: 3, hidden: 6);

        return cases;
    }

    /// <summary>One LSTM step in PyTorch's gate order (input, forget, cell, output).</summary>
    internal static Dictionary<string, Tensor> LstmStep(Tensor x, Tensor h, Tensor c, Tensor wIh, Tensor wHh, Tensor bIh, Tensor bHh)
    {
        var hidden = h.Shape[1];
        var gates = x.Matmul(wIh.Transpose(0, 1)) + bIh + h.Matmul(wHh.Transpose(0, 1)) + bHh;
        var i = gates.Narrow(1, 0, hidden).Sigmoid();
        var f = gates.Narrow(1, hidden, hidden).Sigmoid();
        var g = gates.Narrow(1, 2 * hidden, hidden).Tanh();
        var o = gates.Narrow(1, 3 * hidden, hidden).Sigmoid();
        var nextC = f * c + i * g;
        var nextH = o * nextC.Tanh();
        return new() { ["h"] = nextH, ["c"] = nextC };
    }
}
