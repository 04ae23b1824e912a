using OrleansLm.Model.Torch;

namespace OrleansLm.Model.Tests;

/// <summary>
/// Autograd of every differentiable operation the Tensor / Functional API exposes, checked against
/// central finite differences in float64 (see <see cref="GradCheck"/>). Inputs are drawn from a seeded
/// System.Random per case and kept away from the points where an op is not differentiable
/// (0 for abs/relu, thresholds for clamps, ties for max/sort/topk, non-positive values for log/sqrt/pow).
/// </summary>
[Collection(NativeStateCollection.Name)]
public class GradientCheckTests
{
    private delegate GradInput[] InputFactory(Random random);

    private sealed record Case(InputFactory Inputs, Func<IReadOnlyList<Tensor>, Tensor> Function);

    private static readonly IReadOnlyDictionary<string, Case> Cases = BuildCases();

    public static TheoryData<string> Ops => new(Cases.Keys);

    [Theory]
    [MemberData(nameof(Ops))]
    public void AutogradMatchesFiniteDifferences(string op)
    {
        var testCase = Cases[op];
        var inputs = testCase.Inputs(new Random(StableSeed(op)));

        var result = GradCheck.Run(testCase.Function, inputs);

        result.Passed.Should().BeTrue($"the gradient of '{op}' should match finite differences; {result}");
        result.CheckedElements.Should().Be(inputs.Sum(i => i.Values.Length));
    }

    [Fact]
    public void EveryCaseHasAUniqueNameAndTheTableCoversTheApi()
    {
        // A guard against the table silently shrinking: these groups must all be present.
        string[] required =
        [
            "neg", "exp", "log", "log1p", "tanh", "sigmoid", "relu", "leaky_relu", "gelu", "gelu_tanh", "sqrt", "rsqrt",
            "abs", "square", "sin", "cos", "clamp_min", "clamp_max", "pow_scalar", "pow_tensor", "maximum", "minimum",
            "matmul_2d", "bmm", "addmm", "linear_bias", "linear_no_bias", "sum_all", "mean_all", "max_all", "max_dim_values",
            "norm_2", "logsumexp", "cumsum_dim0", "softmax_last", "log_softmax_last", "gather", "index_select", "embedding",
            "layer_norm_weight_bias", "masked_fill", "tril", "triu", "where", "cat_dim0", "stack_dim0", "view", "reshape",
            "permute", "transpose", "narrow", "select", "expand", "squeeze", "unsqueeze", "flatten_all", "topk_largest",
            "sort_ascending", "cross_entropy_mean", "cross_entropy_sum", "cross_entropy_none", "cross_entropy_ignore_index_mean",
            "cross_entropy_label_smoothing_mean", "dropout_p0_training", "dropout_eval",
        ];
        Cases.Keys.Should().Contain(required);
        Cases.Count.Should().BeGreaterThan(100);
    }

    // ---- the check itself must be able to fail ----

    [Fact]
    public void ReportsAGradientThatDoesNotBelongToTheValue()
    {
        // A hand-made "custom function": its value is sin(x) but its backward is the identity's
        // (straight-through: value from a detached path, gradient from x − x.detach()). The true
        // derivative is cos(x), which is far from 1 on [0.5, 2].
        var random = new Random(7);
        var x = new GradInput("x", [5], _ => 0.5 + 1.5 * random.NextDouble());

        var result = GradCheck.Run(t => t[0].Sin().Detach() + (t[0] - t[0].Detach()), [x]);

        result.Passed.Should().BeFalse();
        result.Problems.Should().BeEmpty();
        result.Mismatches.Should().HaveCount(5);
        foreach (var mismatch in result.Mismatches)
        {
            // Both sides carry the same weight w_j of L = Σ y·w: autograd reports w_j·1, the
            // finite difference w_j·cos(x_j), so their ratio is the derivative of the value.
            mismatch.Input.Should().Be("x");
            (mismatch.Numeric / mismatch.Analytic).Should().BeApproximately(Math.Cos(x.Values[mismatch.Index]), 1e-6,
                "the finite difference sees sin while autograd sees the identity");
        }
    }

    [Fact]
    public void ReportsASmallGradientError()
    {
        // Value x² + 1e-5·sin(x), gradient 2x: the error 1e-5·cos(x) is just ten times the tolerance.
        var random = new Random(8);
        var x = new GradInput("x", [6], _ => 0.1 + 0.4 * random.NextDouble());

        var result = GradCheck.Run(t => t[0].Square() + 1e-5 * t[0].Sin().Detach(), [x]);

        result.Passed.Should().BeFalse();
        result.Mismatches.Should().HaveCount(6);
        // Each element's error is |w_j|·1e-5·cos(x_j) with |w_j| in [0.5, 1.5] and x_j in [0.1, 0.5].
        result.MaxAbsDifference.Should().BeInRange(0.5e-5 * Math.Cos(0.5), 1.5e-5);
    }

    [Fact]
    public void ReportsOnlyTheInputWhoseGradientIsWrong()
    {
        // y = a·b, but b's gradient is cut (b.Detach()) and replaced by zero through (b − b.detach())·0.
        var random = new Random(9);
        var a = new GradInput("a", [2, 3], _ => 0.5 + random.NextDouble());
        var b = new GradInput("b", [2, 3], _ => 0.5 + random.NextDouble());

        var result = GradCheck.Run(t => t[0] * t[1].Detach() + (t[1] - t[1].Detach()) * 0.0, [a, b]);

        result.Passed.Should().BeFalse();
        result.Mismatches.Should().HaveCount(6).And.OnlyContain(m => m.Input == "b" && m.Analytic == 0);
    }

    [Fact]
    public void ReportsAnInputThatReceivesNoGradient()
    {
        var a = new GradInput("a", [3], i => i + 1.0);
        var b = new GradInput("b", [3], i => i - 1.0);

        var result = GradCheck.Run(t => t[0].Detach() * 2.0 + t[1], [a, b]);

        result.Passed.Should().BeFalse();
        result.Problems.Should().ContainSingle().Which.Should().Contain("'a'");
    }

    // ---- the cases ----

    private static int StableSeed(string name)
    {
        unchecked
        {
            var hash = (int)2166136261;
            foreach (var c in name) hash = (hash ^ c) * 16777619;
            return hash & 0x7fffffff;
        }
    }

    private static GradInput Uniform(Random r, string name, long[] shape, double low = -1.5, double high = 1.5) =>
        new(name, shape, _ => low + (high - low) * r.NextDouble());

    private static GradInput Positive(Random r, string name, long[] shape) => Uniform(r, name, shape, 0.5, 2.0);

    /// <summary>Values at least 0.2 away from <paramref name="point"/> on either side.</summary>
    private static GradInput AwayFrom(Random r, string name, long[] shape, double point = 0) =>
        new(name, shape, _ => point + (r.Next(2) == 0 ? -1 : 1) * (0.2 + 1.3 * r.NextDouble()));

    /// <summary>Pairwise distinct values (gaps of at least 0.25) in random order: no ties for max/sort/topk.</summary>
    private static GradInput Distinct(Random r, string name, long[] shape)
    {
        var count = (int)shape.Aggregate(1L, (a, b) => a * b);
        var values = Enumerable.Range(0, count).Select(k => (k - count / 2.0) * 0.3 + 0.05 * r.NextDouble()).ToArray();
        r.Shuffle(values);
        return new GradInput(name, values, shape);
    }

    /// <summary>Two inputs whose broadcast elements differ by at least 0.2 everywhere (for maximum/minimum).</summary>
    private static GradInput[] Separated(Random r, long[] shapeA, long[] shapeB)
    {
        var b = Uniform(r, "b", shapeB);
        // a's elements are b's (broadcast along a's leading dimensions) plus a random offset of |0.2..1|.
        var bCount = b.Values.Length;
        var a = new GradInput("a", shapeA, k => b.Values[k % bCount] + (r.Next(2) == 0 ? -1 : 1) * (0.2 + 0.8 * r.NextDouble()));
        return [a, b];
    }

    private static Tensor Longs(long[] values, params long[] shape) => Tensor.FromArray<long>(values, shape);

    private static Tensor Bools(bool[] values, params long[] shape) => Tensor.FromArray<bool>(values, shape);

    private static IReadOnlyDictionary<string, Case> BuildCases()
    {
        var cases = new Dictionary<string, Case>();
        void Add(string name, InputFactory inputs, Func<IReadOnlyList<Tensor>, Tensor> function) => cases.Add(name, new Case(inputs, function));

        long[] m34 = [3, 4];

        // ---- element-wise unary ----
        Add("neg", r => [Uniform(r, "x", m34)], t => t[0].Neg());
        Add("unary_minus_operator", r => [Uniform(r, "x", m34)], t => -t[0]);
        Add("exp", r => [Uniform(r, "x", m34)], t => t[0].Exp());
        Add("log", r => [Positive(r, "x", m34)], t => t[0].Log());
        Add("log1p", r => [Uniform(r, "x", m34, -0.5, 2)], t => t[0].Log1p());
        Add("tanh", r => [Uniform(r, "x", m34)], t => t[0].Tanh());
        Add("sigmoid", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].Sigmoid());
        Add("relu", r => [AwayFrom(r, "x", m34)], t => t[0].Relu());
        Add("leaky_relu", r => [AwayFrom(r, "x", m34)], t => t[0].LeakyRelu(0.1));
        Add("leaky_relu_default_slope", r => [AwayFrom(r, "x", m34)], t => t[0].LeakyRelu());
        Add("gelu", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].Gelu());
        Add("gelu_tanh", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].Gelu(tanhApproximation: true));
        Add("sqrt", r => [Positive(r, "x", m34)], t => t[0].Sqrt());
        Add("rsqrt", r => [Positive(r, "x", m34)], t => t[0].Rsqrt());
        Add("abs", r => [AwayFrom(r, "x", m34)], t => t[0].Abs());
        Add("square", r => [Uniform(r, "x", m34)], t => t[0].Square());
        Add("sin", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].Sin());
        Add("cos", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].Cos());
        Add("clamp_min", r => [AwayFrom(r, "x", m34, 0.1)], t => t[0].ClampMin(0.1));
        Add("clamp_max", r => [AwayFrom(r, "x", m34, -0.3)], t => t[0].ClampMax(-0.3));
        Add("pow_scalar", r => [Positive(r, "x", m34)], t => t[0].Pow(2.5));
        Add("pow_scalar_negative", r => [Positive(r, "x", m34)], t => t[0].Pow(-1.5));
        Add("pow_scalar_integer_on_signed", r => [Uniform(r, "x", m34)], t => t[0].Pow(3));

        // ---- scalar operators ----
        Add("tensor_plus_scalar", r => [Uniform(r, "x", m34)], t => t[0] + 1.5);
        Add("scalar_plus_tensor", r => [Uniform(r, "x", m34)], t => 1.5 + t[0]);
        Add("tensor_minus_scalar", r => [Uniform(r, "x", m34)], t => t[0] - 0.7);
        Add("scalar_minus_tensor", r => [Uniform(r, "x", m34)], t => 0.7 - t[0]);
        Add("tensor_times_scalar", r => [Uniform(r, "x", m34)], t => t[0] * 2.5);
        Add("scalar_times_tensor", r => [Uniform(r, "x", m34)], t => -2.5 * t[0]);
        Add("tensor_div_scalar", r => [Uniform(r, "x", m34)], t => t[0] / 1.7);
        Add("scalar_div_tensor", r => [AwayFrom(r, "x", m34)], t => 1.7 / t[0]);

        // ---- binary, same shape and broadcasting ----
        Add("add", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)], t => t[0].Add(t[1]));
        Add("add_alpha", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)], t => t[0].Add(t[1], alpha: 0.5));
        Add("sub", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)], t => t[0].Sub(t[1]));
        Add("sub_alpha", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)], t => t[0].Sub(t[1], alpha: -2));
        Add("mul", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)], t => t[0].Mul(t[1]));
        Add("div", r => [Uniform(r, "a", m34), AwayFrom(r, "b", m34)], t => t[0].Div(t[1]));
        Add("operator_add_broadcast_row", r => [Uniform(r, "a", m34), Uniform(r, "b", [4])], t => t[0] + t[1]);
        Add("operator_sub_broadcast_both", r => [Uniform(r, "a", [3, 1]), Uniform(r, "b", [1, 4])], t => t[0] - t[1]);
        Add("operator_mul_broadcast_3d", r => [Uniform(r, "a", [2, 3, 1]), Uniform(r, "b", [3, 4])], t => t[0] * t[1]);
        Add("operator_div_broadcast_column", r => [Uniform(r, "a", [2, 3]), AwayFrom(r, "b", [2, 1])], t => t[0] / t[1]);
        Add("add_broadcast_scalar_tensor", r => [Uniform(r, "a", m34), Uniform(r, "b", [])], t => t[0].Add(t[1]));
        Add("pow_tensor", r => [Positive(r, "a", m34), Uniform(r, "b", m34)], t => t[0].Pow(t[1]));
        Add("pow_tensor_broadcast", r => [Positive(r, "a", m34), Uniform(r, "b", [4])], t => t[0].Pow(t[1]));
        Add("maximum", r => Separated(r, m34, m34), t => t[0].Maximum(t[1]));
        Add("minimum", r => Separated(r, m34, m34), t => t[0].Minimum(t[1]));
        Add("maximum_broadcast", r => Separated(r, m34, [4]), t => t[0].Maximum(t[1]));
        Add("minimum_broadcast", r => Separated(r, [2, 3, 4], [4]), t => t[1].Minimum(t[0]));

        // ---- linear algebra ----
        Add("matmul_2d", r => [Uniform(r, "a", m34), Uniform(r, "b", [4, 2])], t => t[0].Matmul(t[1]));
        Add("matmul_batched_broadcast", r => [Uniform(r, "a", [2, 3, 4]), Uniform(r, "b", [4, 5])], t => t[0].Matmul(t[1]));
        Add("matmul_vector_matrix", r => [Uniform(r, "a", [4]), Uniform(r, "b", [4, 3])], t => t[0].Matmul(t[1]));
        Add("matmul_matrix_vector", r => [Uniform(r, "a", m34), Uniform(r, "b", [4])], t => t[0].Matmul(t[1]));
        Add("bmm", r => [Uniform(r, "a", [2, 3, 4]), Uniform(r, "b", [2, 4, 2])], t => t[0].Bmm(t[1]));
        Add("addmm", r => [Uniform(r, "bias", [2]), Uniform(r, "a", m34), Uniform(r, "b", [4, 2])],
            t => Tensor.Addmm(t[0], t[1], t[2], beta: 0.5, alpha: 1.5));
        Add("addmm_full_bias", r => [Uniform(r, "bias", [3, 2]), Uniform(r, "a", m34), Uniform(r, "b", [4, 2])],
            t => Tensor.Addmm(t[0], t[1], t[2]));
        Add("linear_bias", r => [Uniform(r, "x", m34), Uniform(r, "weight", [2, 4]), Uniform(r, "bias", [2])],
            t => Functional.Linear(t[0], t[1], t[2]));
        Add("linear_no_bias", r => [Uniform(r, "x", m34), Uniform(r, "weight", [2, 4])], t => Functional.Linear(t[0], t[1]));
        Add("linear_3d_input", r => [Uniform(r, "x", [2, 3, 4]), Uniform(r, "weight", [5, 4]), Uniform(r, "bias", [5])],
            t => Functional.Linear(t[0], t[1], t[2]));

        // ---- reductions ----
        Add("sum_all", r => [Uniform(r, "x", m34)], t => t[0].Sum());
        Add("sum_dim1", r => [Uniform(r, "x", m34)], t => t[0].Sum([1]));
        Add("sum_dims02_keepdim", r => [Uniform(r, "x", [2, 3, 4])], t => t[0].Sum([0, 2], keepDim: true));
        Add("sum_negative_dim", r => [Uniform(r, "x", [2, 3, 4])], t => t[0].Sum([-1]));
        Add("mean_all", r => [Uniform(r, "x", m34)], t => t[0].Mean());
        Add("mean_dim0", r => [Uniform(r, "x", m34)], t => t[0].Mean([0]));
        Add("mean_dims_keepdim", r => [Uniform(r, "x", [2, 3, 4])], t => t[0].Mean([1, 2], keepDim: true));
        Add("max_all", r => [Distinct(r, "x", m34)], t => t[0].Max());
        Add("max_dim_values", r => [Distinct(r, "x", m34)], t => t[0].Max(1).Values);
        Add("max_dim_values_keepdim", r => [Distinct(r, "x", [2, 3, 4])], t => t[0].Max(0, keepDim: true).Values);
        Add("norm_2", r => [Uniform(r, "x", m34)], t => t[0].Norm());
        Add("norm_1", r => [AwayFrom(r, "x", m34)], t => t[0].Norm(1));
        Add("norm_3", r => [AwayFrom(r, "x", m34)], t => t[0].Norm(3));
        Add("logsumexp", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].LogSumExp(1));
        Add("logsumexp_keepdim", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].LogSumExp(0, keepDim: true));
        Add("cumsum_dim0", r => [Uniform(r, "x", m34)], t => t[0].CumSum(0));
        Add("cumsum_dim1", r => [Uniform(r, "x", [2, 3, 4])], t => t[0].CumSum(-1));

        // ---- softmax family ----
        Add("softmax_last", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].Softmax(-1));
        Add("softmax_dim0", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].Softmax(0));
        Add("log_softmax_last", r => [Uniform(r, "x", m34, -3, 3)], t => t[0].LogSoftmax(-1));
        Add("log_softmax_dim1_of_3d", r => [Uniform(r, "x", [2, 3, 4], -3, 3)], t => t[0].LogSoftmax(1));

        // ---- indexing ----
        Add("gather", r => [Uniform(r, "x", m34)], t => t[0].Gather(1, Longs([0, 3, 1, 1, 2, 0], 3, 2)));
        Add("gather_dim0", r => [Uniform(r, "x", m34)], t => t[0].Gather(0, Longs([2, 0, 1, 2, 2, 2, 0, 1], 2, 4)));
        Add("index_select", r => [Uniform(r, "x", m34)], t => t[0].IndexSelect(0, Longs([2, 0, 2], 3)));
        Add("index_select_dim1", r => [Uniform(r, "x", m34)], t => t[0].IndexSelect(1, Longs([3, 3, 1, 0, 3], 5)));
        Add("embedding", r => [Uniform(r, "weight", [5, 3])], t => Functional.Embedding(t[0], Longs([0, 2, 4, 2, 2, 1], 2, 3)));
        // (A padding index is not gradient-checkable: by design its row's gradient is zero although the
        // output depends on it. TorchParityTests compares that case with PyTorch instead.)
        Add("embedding_1d_indices", r => [Uniform(r, "weight", [6, 2])], t => Functional.Embedding(t[0], Longs([5, 0, 5, 3], 4)));

        // ---- layer norm ----
        Add("layer_norm_weight_bias", r => [Uniform(r, "x", [3, 5]), Uniform(r, "weight", [5]), Uniform(r, "bias", [5])],
            t => Functional.LayerNorm(t[0], [5], t[1], t[2]));
        Add("layer_norm_2d_normalized_shape", r => [Uniform(r, "x", [2, 3, 4]), Uniform(r, "weight", [3, 4]), Uniform(r, "bias", [3, 4])],
            t => Functional.LayerNorm(t[0], [3, 4], t[1], t[2]));
        Add("layer_norm_plain", r => [Uniform(r, "x", [4, 6])], t => Functional.LayerNorm(t[0], [6]));
        Add("layer_norm_large_eps", r => [Uniform(r, "x", [3, 4]), Uniform(r, "weight", [4]), Uniform(r, "bias", [4])],
            t => Functional.LayerNorm(t[0], [4], t[1], t[2], eps: 0.1));

        // ---- masking and selection ----
        bool[] mask = [true, false, false, true, false, true, false, false, true, true, false, false];
        Add("masked_fill", r => [Uniform(r, "x", m34)], t => t[0].MaskedFill(Bools(mask, 3, 4), -2));
        Add("masked_fill_broadcast_mask", r => [Uniform(r, "x", m34)], t => t[0].MaskedFill(Bools([false, true, true, false], 1, 4), 5));
        Add("tril", r => [Uniform(r, "x", [4, 4])], t => t[0].Tril());
        Add("tril_diagonal_minus1", r => [Uniform(r, "x", [3, 5])], t => t[0].Tril(-1));
        Add("triu", r => [Uniform(r, "x", [4, 4])], t => t[0].Triu());
        Add("triu_diagonal_1_batched", r => [Uniform(r, "x", [2, 3, 3])], t => t[0].Triu(1));
        Add("where", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)], t => Tensor.Where(Bools(mask, 3, 4), t[0], t[1]));
        Add("where_broadcast", r => [Uniform(r, "a", m34), Uniform(r, "b", [4])], t => Tensor.Where(Bools(mask, 3, 4), t[0], t[1]));
        Add("where_from_comparison", r => [AwayFrom(r, "a", m34)], t => Tensor.Where(t[0].Gt(0), t[0].Square(), t[0] * 3.0));

        // ---- combination ----
        Add("cat_dim0", r => [Uniform(r, "a", [2, 3]), Uniform(r, "b", [1, 3])], t => Tensor.Cat([t[0], t[1]]));
        Add("cat_dim1_three", r => [Uniform(r, "a", [2, 1]), Uniform(r, "b", [2, 3]), Uniform(r, "c", [2, 2])],
            t => Tensor.Cat([t[0], t[1], t[2]], 1));
        Add("cat_same_tensor_twice", r => [Uniform(r, "a", [2, 3])], t => Tensor.Cat([t[0], t[0]], -1));
        Add("stack_dim0", r => [Uniform(r, "a", [2, 3]), Uniform(r, "b", [2, 3])], t => Tensor.Stack([t[0], t[1]]));
        Add("stack_dim1_three", r => [Uniform(r, "a", [2, 3]), Uniform(r, "b", [2, 3]), Uniform(r, "c", [2, 3])],
            t => Tensor.Stack([t[0], t[1], t[2]], 1));

        // ---- shape (each followed by a non-linear op so position errors cannot cancel out) ----
        Add("view", r => [Uniform(r, "x", [2, 6])], t => t[0].View(3, 4) * Tensor.Arange(1, 5, dtype: ScalarType.Float64));
        Add("view_inferred_dim", r => [Uniform(r, "x", [2, 6])], t => t[0].View(-1, 3).Square());
        Add("reshape", r => [Uniform(r, "x", [2, 6])], t => t[0].Reshape(4, 3).Exp());
        Add("reshape_non_contiguous", r => [Uniform(r, "x", m34)], t => t[0].Transpose(0, 1).Reshape(12).Exp());
        Add("permute", r => [Uniform(r, "x", [2, 3, 4])], t => t[0].Permute(2, 0, 1).Square());
        Add("transpose", r => [Uniform(r, "x", m34)], t => t[0].Transpose(0, 1).Matmul(Tensor.Arange(0, 3, dtype: ScalarType.Float64)));
        Add("contiguous_of_transpose", r => [Uniform(r, "x", [2, 3, 4])], t => t[0].Transpose(1, 2).Contiguous().Exp());
        Add("narrow", r => [Uniform(r, "x", m34)], t => t[0].Narrow(1, 1, 2).Exp());
        Add("select", r => [Uniform(r, "x", m34)], t => t[0].Select(0, 1).Square());
        Add("select_last_dim", r => [Uniform(r, "x", [2, 3, 4])], t => t[0].Select(-1, 3).Exp());
        Add("expand", r => [Uniform(r, "x", [3, 1])], t => t[0].Expand(3, 4).Square() * Tensor.Arange(1, 13, dtype: ScalarType.Float64).View(3, 4));
        Add("expand_new_leading_dims", r => [Uniform(r, "x", [4])], t => t[0].Expand(2, 3, 4).Sin() * Tensor.Arange(1, 25, dtype: ScalarType.Float64).View(2, 3, 4));
        Add("squeeze", r => [Uniform(r, "x", [3, 1, 4])], t => t[0].Squeeze(1).Exp());
        Add("unsqueeze", r => [Uniform(r, "x", m34)], t => t[0].Unsqueeze(1).Exp());
        Add("flatten_all", r => [Uniform(r, "x", [2, 3, 2])], t => t[0].Flatten().Exp());
        Add("flatten_middle", r => [Uniform(r, "x", [2, 3, 2, 2])], t => t[0].Flatten(1, 2).Square());
        Add("clone", r => [Uniform(r, "x", m34)], t => t[0].Clone().Exp());

        // ---- sorting (values only; the indices are not differentiable) ----
        Add("topk_largest", r => [Distinct(r, "x", [3, 6])], t => t[0].TopK(3).Values.Exp());
        Add("topk_smallest_dim0", r => [Distinct(r, "x", [5, 3])], t => t[0].TopK(2, dim: 0, largest: false).Values.Exp());
        Add("topk_unsorted", r => [Distinct(r, "x", [2, 5])], t => t[0].TopK(2, sorted: false).Values.Sum([-1]));
        Add("sort_ascending", r => [Distinct(r, "x", [3, 5])], t => t[0].Sort().Values.Exp());
        Add("sort_descending_dim0", r => [Distinct(r, "x", [4, 3])], t => t[0].Sort(0, descending: true).Values.Exp());

        // ---- cross entropy ----
        long[] targets = [1, 0, 3, 3, 2];
        long[] withIgnored = [1, -100, 3, -100, 2];
        Add("cross_entropy_mean", r => [Uniform(r, "logits", [5, 4], -2, 2)], t => Functional.CrossEntropy(t[0], Longs(targets, 5)));
        Add("cross_entropy_sum", r => [Uniform(r, "logits", [5, 4], -2, 2)], t => Functional.CrossEntropy(t[0], Longs(targets, 5), Reduction.Sum));
        Add("cross_entropy_none", r => [Uniform(r, "logits", [5, 4], -2, 2)], t => Functional.CrossEntropy(t[0], Longs(targets, 5), Reduction.None));
        Add("cross_entropy_ignore_index_mean", r => [Uniform(r, "logits", [5, 4], -2, 2)],
            t => Functional.CrossEntropy(t[0], Longs(withIgnored, 5)));
        Add("cross_entropy_ignore_index_custom_sum", r => [Uniform(r, "logits", [5, 4], -2, 2)],
            t => Functional.CrossEntropy(t[0], Longs(targets, 5), Reduction.Sum, ignoreIndex: 3));
        Add("cross_entropy_ignore_index_none", r => [Uniform(r, "logits", [5, 4], -2, 2)],
            t => Functional.CrossEntropy(t[0], Longs(withIgnored, 5), Reduction.None));
        Add("cross_entropy_label_smoothing_mean", r => [Uniform(r, "logits", [5, 4], -2, 2)],
            t => Functional.CrossEntropy(t[0], Longs(targets, 5), labelSmoothing: 0.1));
        Add("cross_entropy_label_smoothing_sum", r => [Uniform(r, "logits", [5, 4], -2, 2)],
            t => Functional.CrossEntropy(t[0], Longs(targets, 5), Reduction.Sum, labelSmoothing: 0.2));
        Add("cross_entropy_label_smoothing_none", r => [Uniform(r, "logits", [5, 4], -2, 2)],
            t => Functional.CrossEntropy(t[0], Longs(targets, 5), Reduction.None, labelSmoothing: 0.15));
        Add("cross_entropy_label_smoothing_with_ignore_index", r => [Uniform(r, "logits", [5, 4], -2, 2)],
            t => Functional.CrossEntropy(t[0], Longs(withIgnored, 5), labelSmoothing: 0.1));
        Add("cross_entropy_unbatched", r => [Uniform(r, "logits", [6], -2, 2)],
            t => Functional.CrossEntropy(t[0], Longs([4])));
        Add("cross_entropy_sequence_logits", r => [Uniform(r, "logits", [2, 3, 4], -2, 2)],
            t => Functional.CrossEntropy(t[0].View(6, 4), Longs([0, 1, 2, 3, 3, 1], 6)));

        // ---- dropout that must be the identity ----
        Add("dropout_p0_training", r => [Uniform(r, "x", m34)], t => Functional.Dropout(t[0], 0, training: true).Exp());
        Add("dropout_eval", r => [Uniform(r, "x", m34)], t => Functional.Dropout(t[0], 0.5, training: false).Exp());

        // ---- in-place ops on intermediates (autograd records them). The intermediate comes from an op
        // that does not save its output for backward (sin, mul), so modifying it in place is legal. ----
        Add("add_in_place_on_intermediate", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)],
            t => (t[0] * 1.0).AddInPlace(t[1].Square(), 0.5));
        Add("sub_in_place_on_intermediate", r => [Uniform(r, "a", m34), Uniform(r, "b", [4])],
            t => t[0].Sin().SubInPlace(t[1], 2));
        Add("mul_in_place_on_intermediate", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)],
            t => t[0].Sin().MulInPlace(t[1]));
        Add("div_in_place_on_intermediate", r => [Uniform(r, "a", m34), AwayFrom(r, "b", m34)],
            t => t[0].Sin().DivInPlace(t[1]));
        Add("scalar_in_place_on_intermediate", r => [Uniform(r, "a", m34)],
            t => t[0].Square().AddInPlace(0.5).MulInPlace(-3));
        Add("lerp_in_place_on_intermediate", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)],
            t => t[0].Sin().LerpInPlace(t[1], 0.3));
        Add("addcmul_in_place_on_intermediate", r => [Uniform(r, "a", m34), Uniform(r, "b", m34), Uniform(r, "c", m34)],
            t => t[0].Sin().AddcmulInPlace(t[1], t[2], 0.7));
        Add("addcdiv_in_place_on_intermediate", r => [Uniform(r, "a", m34), Uniform(r, "b", m34), AwayFrom(r, "c", m34)],
            t => t[0].Sin().AddcdivInPlace(t[1], t[2], 0.7));
        // Values in [0.2, 0.8] ∪ [1.2, 1.8] ∪ [2.2, 2.8]: below, between and above the clamp bounds 1 and 2.
        Add("clamp_in_place_on_intermediate", r => [new GradInput("a", m34, k => k % 3 + 0.2 + 0.6 * r.NextDouble())],
            t => (t[0] * 1.0).ClampMinInPlace(1).ClampMaxInPlace(2).Square());
        Add("sqrt_in_place_on_intermediate", r => [Positive(r, "a", m34)], t => (t[0] * 2.0).SqrtInPlace());
        Add("copy_from_into_intermediate", r => [Uniform(r, "a", m34), Uniform(r, "b", [4])],
            t => (t[0] * 1.0).CopyFrom(t[1]).Exp() + t[0]);
        Add("fill_in_place_on_intermediate", r => [Uniform(r, "a", m34), Uniform(r, "b", m34)],
            t => (t[0] * 1.0).Fill(2) * t[1] + t[0].Square());
        Add("to_same_dtype", r => [Uniform(r, "x", m34)], t => t[0].To(ScalarType.Float64).Exp());

        // ---- composites ----
        Add("mlp_two_layers", r => [Uniform(r, "x", [3, 4]), Uniform(r, "w1", [5, 4]), Uniform(r, "b1", [5]), Uniform(r, "w2", [2, 5]), Uniform(r, "b2", [2])],
            t => Functional.Linear(Functional.Linear(t[0], t[1], t[2]).Gelu(), t[3], t[4]).LogSoftmax(-1));
        Add("lstm_step", r => [Uniform(r, "x", [2, 3]), Uniform(r, "h", [2, 2]), Uniform(r, "c", [2, 2]),
                Uniform(r, "w_ih", [8, 3]), Uniform(r, "w_hh", [8, 2]), Uniform(r, "b_ih", [8]), Uniform(r, "b_hh", [8])],
            t =>
            {
                // gates = x W_ih^T + b_ih + h W_hh^T + b_hh, split into i, f, g, o.
                var gates = Functional.Linear(t[0], t[3], t[5]) + Functional.Linear(t[1], t[4], t[6]);
                var i = gates.Narrow(1, 0, 2).Sigmoid();
                var f = gates.Narrow(1, 2, 2).Sigmoid();
                var g = gates.Narrow(1, 4, 2).Tanh();
                var o = gates.Narrow(1, 6, 2).Sigmoid();
                var c = f * t[2] + i * g;
                var h = o * c.Tanh();
                return Tensor.Cat([h, c], 1);
            });

        return cases;
    }
}
