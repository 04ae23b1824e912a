namespace OrleansLm.Model.Torch;

// Operations that return new tensors (or, for the *InPlace family, mutate this one), named as in
// PyTorch with .NET casing. Shapes broadcast as in PyTorch.
public sealed partial class Tensor
{
    // ---- shape ----
    public unsafe Tensor View(params ReadOnlySpan<long> shape)
    {
        fixed (long* p = shape) return Wrap(Native.olm_view(this, p, shape.Length));
    }

    public unsafe Tensor Reshape(params ReadOnlySpan<long> shape)
    {
        fixed (long* p = shape) return Wrap(Native.olm_reshape(this, p, shape.Length));
    }

    public unsafe Tensor Expand(params ReadOnlySpan<long> shape)
    {
        fixed (long* p = shape) return Wrap(Native.olm_expand(this, p, shape.Length));
    }

    public unsafe Tensor Permute(params ReadOnlySpan<long> dims)
    {
        fixed (long* p = dims) return Wrap(Native.olm_permute(this, p, dims.Length));
    }

    public Tensor Transpose(long dim0, long dim1) => Wrap(Native.olm_transpose(this, dim0, dim1));

    public Tensor Contiguous() => Wrap(Native.olm_contiguous(this));

    public Tensor Narrow(long dim, long start, long length) => Wrap(Native.olm_narrow(this, dim, start, length));

    public Tensor Select(long dim, long index) => Wrap(Native.olm_select(this, dim, index));

    public Tensor Squeeze(long dim) => Wrap(Native.olm_squeeze(this, dim));

    public Tensor Unsqueeze(long dim) => Wrap(Native.olm_unsqueeze(this, dim));

    public Tensor Flatten(long startDim = 0, long endDim = -1) => Wrap(Native.olm_flatten(this, startDim, endDim));

    // ---- element-wise ----
    public Tensor Add(Tensor other, double alpha = 1) => Wrap(Native.olm_binary(BinaryOp.Add, this, other, alpha));
    public Tensor Sub(Tensor other, double alpha = 1) => Wrap(Native.olm_binary(BinaryOp.Sub, this, other, alpha));
    public Tensor Mul(Tensor other) => Binary(BinaryOp.Mul, other);
    public Tensor Div(Tensor other) => Binary(BinaryOp.Div, other);
    public Tensor Pow(Tensor exponent) => Binary(BinaryOp.Pow, exponent);
    public Tensor Pow(double exponent) => Unary(UnaryOp.PowScalar, exponent);
    public Tensor Maximum(Tensor other) => Binary(BinaryOp.Maximum, other);
    public Tensor Minimum(Tensor other) => Binary(BinaryOp.Minimum, other);
    public Tensor Eq(Tensor other) => Binary(BinaryOp.Eq, other);
    public Tensor Eq(double other) => BinaryScalar(BinaryOp.Eq, other);
    public Tensor Ne(Tensor other) => Binary(BinaryOp.Ne, other);
    public Tensor Ne(double other) => BinaryScalar(BinaryOp.Ne, other);
    public Tensor Lt(Tensor other) => Binary(BinaryOp.Lt, other);
    public Tensor Lt(double other) => BinaryScalar(BinaryOp.Lt, other);
    public Tensor Le(Tensor other) => Binary(BinaryOp.Le, other);
    public Tensor Le(double other) => BinaryScalar(BinaryOp.Le, other);
    public Tensor Gt(Tensor other) => Binary(BinaryOp.Gt, other);
    public Tensor Gt(double other) => BinaryScalar(BinaryOp.Gt, other);
    public Tensor Ge(Tensor other) => Binary(BinaryOp.Ge, other);
    public Tensor Ge(double other) => BinaryScalar(BinaryOp.Ge, other);
    public Tensor LogicalAnd(Tensor other) => Binary(BinaryOp.LogicalAnd, other);
    public Tensor LogicalOr(Tensor other) => Binary(BinaryOp.LogicalOr, other);
    public Tensor LogicalNot() => Unary(UnaryOp.LogicalNot);

    public Tensor Neg() => Unary(UnaryOp.Neg);
    public Tensor Exp() => Unary(UnaryOp.Exp);
    public Tensor Log() => Unary(UnaryOp.Log);
    public Tensor Log1p() => Unary(UnaryOp.Log1p);
    public Tensor Tanh() => Unary(UnaryOp.Tanh);
    public Tensor Sigmoid() => Unary(UnaryOp.Sigmoid);
    public Tensor Relu() => Unary(UnaryOp.Relu);
    public Tensor LeakyRelu(double negativeSlope = 0.01) => Unary(UnaryOp.LeakyRelu, negativeSlope);

    /// <summary>GELU, exact (erf) or with the tanh approximation used by GPT-2.</summary>
    public Tensor Gelu(bool tanhApproximation = false) => Unary(tanhApproximation ? UnaryOp.GeluTanh : UnaryOp.Gelu);

    public Tensor Sqrt() => Unary(UnaryOp.Sqrt);
    public Tensor Rsqrt() => Unary(UnaryOp.Rsqrt);
    public Tensor Abs() => Unary(UnaryOp.Abs);
    public Tensor Square() => Unary(UnaryOp.Square);
    public Tensor Sin() => Unary(UnaryOp.Sin);
    public Tensor Cos() => Unary(UnaryOp.Cos);
    public Tensor ClampMin(double min) => Unary(UnaryOp.ClampMin, min);
    public Tensor ClampMax(double max) => Unary(UnaryOp.ClampMax, max);

    public Tensor MaskedFill(Tensor mask, double value) => Wrap(Native.olm_masked_fill(this, mask, value));
    public Tensor Tril(long diagonal = 0) => Wrap(Native.olm_tril(this, diagonal));
    public Tensor Triu(long diagonal = 0) => Wrap(Native.olm_triu(this, diagonal));

    public static Tensor operator +(Tensor a, Tensor b) => a.Add(b);
    public static Tensor operator +(Tensor a, double b) => a.Unary(UnaryOp.AddScalar, b);
    public static Tensor operator +(double a, Tensor b) => b.Unary(UnaryOp.AddScalar, a);
    public static Tensor operator -(Tensor a, Tensor b) => a.Sub(b);
    public static Tensor operator -(Tensor a, double b) => a.Unary(UnaryOp.AddScalar, -b);
    public static Tensor operator -(double a, Tensor b) => b.Unary(UnaryOp.RsubScalar, a);
    public static Tensor operator *(Tensor a, Tensor b) => a.Mul(b);
    public static Tensor operator *(Tensor a, double b) => a.Unary(UnaryOp.MulScalar, b);
    public static Tensor operator *(double a, Tensor b) => b.Unary(UnaryOp.MulScalar, a);
    public static Tensor operator /(Tensor a, Tensor b) => a.Div(b);
    public static Tensor operator /(Tensor a, double b) => a.BinaryScalar(BinaryOp.Div, b);
    public static Tensor operator /(double a, Tensor b) => b.Unary(UnaryOp.RdivScalar, a);
    public static Tensor operator -(Tensor a) => a.Neg();

    // ---- in-place: for optimizers and initialisation (run them under LibTorch.NoGrad on parameters) ----
    public Tensor AddInPlace(Tensor other, double alpha = 1) => InPlace(InPlaceOp.Add, other, alpha);
    public Tensor SubInPlace(Tensor other, double alpha = 1) => InPlace(InPlaceOp.Sub, other, alpha);
    public Tensor MulInPlace(Tensor other) => InPlace(InPlaceOp.Mul, other);
    public Tensor DivInPlace(Tensor other) => InPlace(InPlaceOp.Div, other);

    /// <summary>
    /// Copies <paramref name="source"/> (broadcast, converted, from any device) into this tensor. With
    /// <paramref name="nonBlocking"/>, a copy between pinned host memory and a CUDA device is queued rather than waited
    /// for: synchronise (<see cref="LibTorch.Synchronize"/>) before reading the destination on the host.
    /// </summary>
    public Tensor CopyFrom(Tensor source, bool nonBlocking = false)
    {
        Native.Check(Native.olm_copy_(this, source, nonBlocking ? 1 : 0));
        return this;
    }

    /// <summary>this += weight · (end − this).</summary>
    public Tensor LerpInPlace(Tensor end, double weight) => InPlace(InPlaceOp.Lerp, end, weight);

    public Tensor AddInPlace(double value) => InPlace(InPlaceScalarOp.Add, value);
    public Tensor MulInPlace(double value) => InPlace(InPlaceScalarOp.Mul, value);
    public Tensor Fill(double value) => InPlace(InPlaceScalarOp.Fill, value);
    public Tensor Zero() => InPlace(InPlaceScalarOp.Fill, 0);
    public Tensor ClampMinInPlace(double min) => InPlace(InPlaceScalarOp.ClampMin, min);
    public Tensor ClampMaxInPlace(double max) => InPlace(InPlaceScalarOp.ClampMax, max);
    public Tensor SqrtInPlace() => InPlace(InPlaceScalarOp.Sqrt, 0);

    /// <summary>this += value · t1 · t2.</summary>
    public Tensor AddcmulInPlace(Tensor t1, Tensor t2, double value = 1)
    {
        Native.Check(Native.olm_addcmul_(this, t1, t2, value));
        return this;
    }

    /// <summary>this += value · t1 / t2.</summary>
    public Tensor AddcdivInPlace(Tensor t1, Tensor t2, double value = 1)
    {
        Native.Check(Native.olm_addcdiv_(this, t1, t2, value));
        return this;
    }

    public Tensor NormalInPlace(double mean = 0, double std = 1)
    {
        Native.Check(Native.olm_normal_(this, mean, std));
        return this;
    }

    public Tensor UniformInPlace(double low = 0, double high = 1)
    {
        Native.Check(Native.olm_uniform_(this, low, high));
        return this;
    }

    // ---- linear algebra ----
    public Tensor Matmul(Tensor other) => Wrap(Native.olm_matmul(this, other));

    public Tensor Bmm(Tensor other) => Wrap(Native.olm_bmm(this, other));

    // ---- reductions ----
    public unsafe Tensor Sum(ReadOnlySpan<long> dims = default, bool keepDim = false)
    {
        fixed (long* p = dims) return Wrap(Native.olm_sum(this, p, dims.Length, keepDim ? 1 : 0));
    }

    public unsafe Tensor Mean(ReadOnlySpan<long> dims = default, bool keepDim = false)
    {
        fixed (long* p = dims) return Wrap(Native.olm_mean(this, p, dims.Length, keepDim ? 1 : 0));
    }

    public Tensor Max() => Wrap(Native.olm_max_all(this));

    public (Tensor Values, Tensor Indices) Max(long dim, bool keepDim = false) =>
        WrapPair(Native.olm_max_dim(this, dim, keepDim ? 1 : 0, out var values, out var indices), values, indices);

    public Tensor ArgMax(long dim = -1, bool keepDim = false) => Wrap(Native.olm_argmax(this, dim, keepDim ? 1 : 0));

    /// <summary>The p-norm of all elements (p = 2: Euclidean).</summary>
    public Tensor Norm(double p = 2) => Wrap(Native.olm_norm(this, p));

    public Tensor LogSumExp(long dim, bool keepDim = false) => Wrap(Native.olm_logsumexp(this, dim, keepDim ? 1 : 0));

    public Tensor CumSum(long dim) => Wrap(Native.olm_cumsum(this, dim));

    // ---- indexing, sorting, sampling ----
    public Tensor Gather(long dim, Tensor index) => Wrap(Native.olm_gather(this, dim, index));

    public Tensor IndexSelect(long dim, Tensor index) => Wrap(Native.olm_index_select(this, dim, index));

    public (Tensor Values, Tensor Indices) TopK(long k, long dim = -1, bool largest = true, bool sorted = true) =>
        WrapPair(Native.olm_topk(this, k, dim, largest ? 1 : 0, sorted ? 1 : 0, out var values, out var indices), values, indices);

    public (Tensor Values, Tensor Indices) Sort(long dim = -1, bool descending = false) =>
        WrapPair(Native.olm_sort(this, dim, descending ? 1 : 0, out var values, out var indices), values, indices);

    /// <summary>Draws indices from the rows of this (unnormalised, non-negative) probability tensor.</summary>
    public Tensor Multinomial(long samples, bool replacement = false) =>
        Wrap(Native.olm_multinomial(this, samples, replacement ? 1 : 0));

    public Tensor Softmax(long dim) => Wrap(Native.olm_softmax(this, dim));

    public Tensor LogSoftmax(long dim) => Wrap(Native.olm_log_softmax(this, dim));

    private Tensor Unary(UnaryOp op, double parameter = 0) => Wrap(Native.olm_unary(op, this, parameter));

    private Tensor Binary(BinaryOp op, Tensor other) => Wrap(Native.olm_binary(op, this, other, 1));

    private Tensor BinaryScalar(BinaryOp op, double other) => Wrap(Native.olm_binary_scalar(op, this, other));

    private Tensor InPlace(InPlaceOp op, Tensor other, double alpha = 1)
    {
        Native.Check(Native.olm_inplace(op, this, other, alpha));
        return this;
    }

    private Tensor InPlace(InPlaceScalarOp op, double value)
    {
        Native.Check(Native.olm_inplace_scalar(op, this, value));
        return this;
    }
}
