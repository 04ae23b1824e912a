using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansLm.Model.Models;
using OrleansLm.Model.Torch;
using static OrleansLm.Model.Tests.TorchParityTests;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Our TransformerLm against the same architecture written in PyTorch (parity/transformer_parity.py,
/// nanoGPT's shape): the script loads our weights by name, and logits, loss and every parameter's
/// gradient must agree to <see cref="TorchParityTests.Tolerance"/>.
/// </summary>
[Collection(NativeStateCollection.Name)]
public class TransformerParityTests(TransformerParityTests.Reference reference) : IClassFixture<TransformerParityTests.Reference>
{
    public sealed record Case(string Name, TransformerConfig Config, ScalarType DType, ulong Seed)
    {
        public const int Batch = 2;

        /// <summary>
        /// Weights of order 1 rather than the model's N(0, 0.02) start, so that every nonlinearity works
        /// outside its near-linear range and a wrong one (tanh-GELU for erf-GELU, say) shows.
        /// </summary>
        public TransformerLm BuildModel()
        {
            var model = TransformerTesting.Build(Config, Seed, DType);
            using var noGrad = LibTorch.NoGrad();
            foreach (var parameter in model.Parameters()) parameter.NormalInPlace(0, 0.5);
            return model;
        }

        public (long[] Tokens, long[] Targets) Data()
        {
            var random = new Random((int)Seed);
            long[] Draw() => [.. Enumerable.Range(0, Batch * Config.BlockSize).Select(_ => (long)random.Next(Config.VocabularySize))];
            return (Draw(), Draw());
        }
    }

    public static IReadOnlyList<Case> Cases { get; } =
    [
        new("pre_learned_tied_bias", new TransformerConfig(13, 7, Layers: 2, Heads: 3, ModelDimension: 12), ScalarType.Float32, 11),
        new("post_sinusoidal_untied_nobias",
            new TransformerConfig(9, 6, Layers: 2, Heads: 2, ModelDimension: 10, Bias: false,
                Positions: PositionEncoding.Sinusoidal, Norm: NormPlacement.PostNorm, TiedEmbeddings: false),
            ScalarType.Float32, 12),
        new("pre_sinusoidal_untied_f64",
            new TransformerConfig(11, 5, Layers: 3, Heads: 4, ModelDimension: 8, Positions: PositionEncoding.Sinusoidal, TiedEmbeddings: false),
            ScalarType.Float64, 13),
        new("post_learned_tied_f64", new TransformerConfig(10, 6, Layers: 1, Heads: 1, ModelDimension: 6, Norm: NormPlacement.PostNorm),
            ScalarType.Float64, 14),
    ];

    public static TheoryData<string> CaseNames => new(Cases.Select(c => c.Name));

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void LogitsLossAndGradientsMatchPyTorch(string name)
    {
        var testCase = Cases.Single(c => c.Name == name);
        var expected = reference.ResultFor(name);
        using var model = testCase.BuildModel();
        using var scope = DisposeScope.Enter();
        var (tokenData, targetData) = testCase.Data();
        long[] shape = [Case.Batch, testCase.Config.BlockSize];
        var tokens = Tensor.FromArray<long>(tokenData, shape);
        var targets = Tensor.FromArray<long>(targetData, shape);

        var logits = model.Forward(tokens);
        var loss = model.Loss(tokens, targets);
        loss.Backward();

        var failures = Compare("logits", logits, expected.Logits).Concat(Compare("loss", loss, expected.Loss)).ToList();
        foreach (var (parameterName, parameter) in model.NamedParameters())
            failures.AddRange(expected.Grads.TryGetValue(parameterName, out var grad)
                ? Compare($"gradient of {parameterName}", parameter.Grad!, grad)
                : [$"torch reports no gradient for {parameterName}"]);
        failures.Should().BeEmpty();
        expected.Grads.Keys.Should().BeEquivalentTo(model.NamedParameters().Select(p => p.Name));
    }

    public sealed record Result(ReferenceTensor Logits, ReferenceTensor Loss, IReadOnlyDictionary<string, ReferenceTensor> Grads);

    /// <summary>Runs transformer_parity.py once over every case.</summary>
    public sealed class Reference
    {
        private readonly Dictionary<string, Result> results = [];
        private readonly Dictionary<string, string> caseErrors = [];

        public Reference()
        {
            try
            {
                Error = PythonReference.Run("transformer_parity.py", Input().ToJsonString(), out var output);
                if (Error is null) Parse(output);
            }
            catch (Exception e) when (e is IOException or JsonException or InvalidOperationException or KeyNotFoundException)
            {
                Error = $"reading the parity script's results failed: {e}";
            }
        }

        public string? Error { get; }

        public Result ResultFor(string name)
        {
            Error.Should().BeNull("PyTorch reference results are required for parity tests");
            caseErrors.GetValueOrDefault(name).Should().BeNull($"transformer_parity.py should evaluate case '{name}'");
            return results[name];
        }

        private static JsonObject Input()
        {
            var cases = new JsonArray();
            foreach (var c in Cases)
            {
                using var model = c.BuildModel();
                var (tokens, targets) = c.Data();
                JsonArray Rows(long[] values) =>
                    [.. values.Chunk(c.Config.BlockSize).Select(row => (JsonNode)new JsonArray([.. row.Select(v => JsonValue.Create(v))]))];
                cases.Add(new JsonObject
                {
                    ["name"] = c.Name,
                    ["dtype"] = c.DType == ScalarType.Float64 ? "float64" : "float32",
                    ["config"] = new JsonObject
                    {
                        ["vocabulary_size"] = c.Config.VocabularySize,
                        ["block_size"] = c.Config.BlockSize,
                        ["layers"] = c.Config.Layers,
                        ["heads"] = c.Config.Heads,
                        ["model_dimension"] = c.Config.ModelDimension,
                        ["bias"] = c.Config.Bias,
                        ["positions"] = c.Config.Positions == PositionEncoding.Learned ? "learned" : "sinusoidal",
                        ["norm"] = c.Config.Norm == NormPlacement.PreNorm ? "pre" : "post",
                        ["tied"] = c.Config.TiedEmbeddings,
                    },
                    ["tokens"] = Rows(tokens),
                    ["targets"] = Rows(targets),
                    ["parameters"] = new JsonObject(model.NamedParameters().Select(p => KeyValuePair.Create(p.Name, (JsonNode?)new JsonObject
                    {
                        ["shape"] = new JsonArray([.. p.Parameter.Shape.Select(s => JsonValue.Create(s))]),
                        ["data"] = new JsonArray([.. TransformerTesting.Values(p.Parameter).Select(v => JsonValue.Create(v))]),
                    }))),
                });
            }
            return new JsonObject { ["cases"] = cases };
        }

        private void Parse(string json)
        {
            using var document = JsonDocument.Parse(json);
            foreach (var entry in document.RootElement.GetProperty("results").EnumerateObject())
            {
                if (entry.Value.TryGetProperty("error", out var error))
                {
                    caseErrors[entry.Name] = error.GetString() ?? "unknown error";
                    continue;
                }
                results[entry.Name] = new Result(
                    TorchParityTests.Reference.ReadTensor(entry.Value.GetProperty("logits")),
                    TorchParityTests.Reference.ReadTensor(entry.Value.GetProperty("loss")),
                    entry.Value.GetProperty("grads").EnumerateObject().ToDictionary(g => g.Name, g => TorchParityTests.Reference.ReadTensor(g.Value)));
            }
        }
    }
}
