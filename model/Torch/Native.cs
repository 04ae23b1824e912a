using System.Runtime.InteropServices;

namespace OrleansLm.Model.Torch;

// The repository's only P/Invoke surface: one declaration per export of model/native/olm_torch.h.
// Tensor arguments marshal through TensorMarshaller (a reference is held for the call's duration);
// returned handles are raw pointers that Tensor.Wrap checks and takes ownership of.
internal static unsafe partial class Native
{
    private const string Library = "olmtorch";

    [LibraryImport(Library)] internal static partial IntPtr olm_last_error();
    [LibraryImport(Library)] internal static partial IntPtr olm_version();
    [LibraryImport(Library)] internal static partial long olm_live_tensors();
    [LibraryImport(Library)] internal static partial int olm_manual_seed(ulong seed);
    [LibraryImport(Library)] internal static partial IntPtr olm_get_rng_state();
    [LibraryImport(Library)] internal static partial int olm_set_rng_state(Tensor state);
    [LibraryImport(Library)] internal static partial int olm_set_num_threads(int threads);
    [LibraryImport(Library)] internal static partial int olm_get_num_threads();
    [LibraryImport(Library)] internal static partial int olm_cuda_device_count();
    [LibraryImport(Library)] internal static partial int olm_cuda_synchronize(int deviceIndex);
    [LibraryImport(Library)] internal static partial int olm_allow_tf32();
    [LibraryImport(Library)] internal static partial int olm_set_allow_tf32(int allow);
    [LibraryImport(Library)] internal static partial int olm_autocast_enter(int deviceType, int dtype, out int previousEnabled, out int previousDtype);
    [LibraryImport(Library)] internal static partial int olm_autocast_exit(int deviceType, int previousEnabled, int previousDtype);
    [LibraryImport(Library)] internal static partial int olm_autocast_enabled(int deviceType);
    [LibraryImport(Library)] internal static partial int olm_grad_enabled();
    [LibraryImport(Library)] internal static partial int olm_set_grad_enabled(int enabled);

    [LibraryImport(Library)] internal static partial void olm_free(IntPtr t);
    [LibraryImport(Library)] internal static partial long olm_dim(Tensor t);
    [LibraryImport(Library)] internal static partial long olm_sizes(Tensor t, long* output, long capacity);
    [LibraryImport(Library)] internal static partial int olm_dtype(Tensor t);
    [LibraryImport(Library)] internal static partial int olm_device(Tensor t, out int type, out int index);
    [LibraryImport(Library)] internal static partial long olm_numel(Tensor t);
    [LibraryImport(Library)] internal static partial int olm_requires_grad(Tensor t);
    [LibraryImport(Library)] internal static partial int olm_is_contiguous(Tensor t);
    [LibraryImport(Library)] internal static partial int olm_item_double(Tensor t, out double value);
    [LibraryImport(Library)] internal static partial int olm_item_long(Tensor t, out long value);
    [LibraryImport(Library)] internal static partial int olm_copy_to_host(Tensor t, void* destination, long bytes);

    [LibraryImport(Library)] internal static partial IntPtr olm_full(long* shape, long ndim, double value, int dtype, int deviceType, int deviceIndex, int requiresGrad);
    [LibraryImport(Library)] internal static partial IntPtr olm_arange(double start, double end, double step, int dtype, int deviceType, int deviceIndex);
    [LibraryImport(Library)] internal static partial IntPtr olm_randn(long* shape, long ndim, int dtype, int deviceType, int deviceIndex, int requiresGrad);
    [LibraryImport(Library)] internal static partial IntPtr olm_rand(long* shape, long ndim, int dtype, int deviceType, int deviceIndex, int requiresGrad);
    [LibraryImport(Library)] internal static partial IntPtr olm_randint(long low, long high, long* shape, long ndim, int deviceType, int deviceIndex);
    [LibraryImport(Library)] internal static partial IntPtr olm_from_host(void* data, long* shape, long ndim, int dtype, int deviceType, int deviceIndex, int requiresGrad);
    [LibraryImport(Library)] internal static partial IntPtr olm_to(Tensor t, int dtype, int deviceType, int deviceIndex);
    [LibraryImport(Library)] internal static partial IntPtr olm_clone(Tensor t);
    [LibraryImport(Library)] internal static partial IntPtr olm_empty_pinned(long* shape, long ndim, int dtype);
    [LibraryImport(Library)] internal static partial int olm_copy_(Tensor self, Tensor source, int nonBlocking);

    [LibraryImport(Library)] internal static partial IntPtr olm_view(Tensor t, long* shape, long ndim);
    [LibraryImport(Library)] internal static partial IntPtr olm_reshape(Tensor t, long* shape, long ndim);
    [LibraryImport(Library)] internal static partial IntPtr olm_expand(Tensor t, long* shape, long ndim);
    [LibraryImport(Library)] internal static partial IntPtr olm_permute(Tensor t, long* dims, long ndim);
    [LibraryImport(Library)] internal static partial IntPtr olm_transpose(Tensor t, long dim0, long dim1);
    [LibraryImport(Library)] internal static partial IntPtr olm_contiguous(Tensor t);
    [LibraryImport(Library)] internal static partial IntPtr olm_narrow(Tensor t, long dim, long start, long length);
    [LibraryImport(Library)] internal static partial IntPtr olm_select(Tensor t, long dim, long index);
    [LibraryImport(Library)] internal static partial IntPtr olm_squeeze(Tensor t, long dim);
    [LibraryImport(Library)] internal static partial IntPtr olm_unsqueeze(Tensor t, long dim);
    [LibraryImport(Library)] internal static partial IntPtr olm_flatten(Tensor t, long startDim, long endDim);
    [LibraryImport(Library)] internal static partial IntPtr olm_cat(IntPtr* tensors, long count, long dim);
    [LibraryImport(Library)] internal static partial IntPtr olm_stack(IntPtr* tensors, long count, long dim);

    [LibraryImport(Library)] internal static partial IntPtr olm_unary(UnaryOp op, Tensor t, double parameter);
    [LibraryImport(Library)] internal static partial IntPtr olm_binary(BinaryOp op, Tensor a, Tensor b, double alpha);
    [LibraryImport(Library)] internal static partial IntPtr olm_binary_scalar(BinaryOp op, Tensor a, double b);
    [LibraryImport(Library)] internal static partial IntPtr olm_where(Tensor condition, Tensor a, Tensor b);
    [LibraryImport(Library)] internal static partial IntPtr olm_masked_fill(Tensor t, Tensor mask, double value);
    [LibraryImport(Library)] internal static partial IntPtr olm_tril(Tensor t, long diagonal);
    [LibraryImport(Library)] internal static partial IntPtr olm_triu(Tensor t, long diagonal);

    [LibraryImport(Library)] internal static partial int olm_inplace(InPlaceOp op, Tensor self, Tensor other, double alpha);
    [LibraryImport(Library)] internal static partial int olm_inplace_scalar(InPlaceScalarOp op, Tensor self, double value);
    [LibraryImport(Library)] internal static partial int olm_addcmul_(Tensor self, Tensor t1, Tensor t2, double value);
    [LibraryImport(Library)] internal static partial int olm_addcdiv_(Tensor self, Tensor t1, Tensor t2, double value);
    [LibraryImport(Library)] internal static partial int olm_normal_(Tensor self, double mean, double std);
    [LibraryImport(Library)] internal static partial int olm_uniform_(Tensor self, double low, double high);

    [LibraryImport(Library)] internal static partial IntPtr olm_matmul(Tensor a, Tensor b);
    [LibraryImport(Library)] internal static partial IntPtr olm_bmm(Tensor a, Tensor b);
    [LibraryImport(Library)] internal static partial IntPtr olm_addmm(Tensor bias, Tensor a, Tensor b, double beta, double alpha);
    [LibraryImport(Library)] internal static partial IntPtr olm_linear(Tensor x, Tensor weight, Tensor? bias);

    [LibraryImport(Library)] internal static partial IntPtr olm_sum(Tensor t, long* dims, long ndims, int keepdim);
    [LibraryImport(Library)] internal static partial IntPtr olm_mean(Tensor t, long* dims, long ndims, int keepdim);
    [LibraryImport(Library)] internal static partial IntPtr olm_max_all(Tensor t);
    [LibraryImport(Library)] internal static partial int olm_max_dim(Tensor t, long dim, int keepdim, out IntPtr values, out IntPtr indices);
    [LibraryImport(Library)] internal static partial IntPtr olm_argmax(Tensor t, long dim, int keepdim);
    [LibraryImport(Library)] internal static partial IntPtr olm_norm(Tensor t, double p);
    [LibraryImport(Library)] internal static partial IntPtr olm_logsumexp(Tensor t, long dim, int keepdim);
    [LibraryImport(Library)] internal static partial IntPtr olm_cumsum(Tensor t, long dim);

    [LibraryImport(Library)] internal static partial IntPtr olm_gather(Tensor t, long dim, Tensor index);
    [LibraryImport(Library)] internal static partial IntPtr olm_index_select(Tensor t, long dim, Tensor index);
    [LibraryImport(Library)] internal static partial int olm_topk(Tensor t, long k, long dim, int largest, int sorted, out IntPtr values, out IntPtr indices);
    [LibraryImport(Library)] internal static partial int olm_sort(Tensor t, long dim, int descending, out IntPtr values, out IntPtr indices);
    [LibraryImport(Library)] internal static partial IntPtr olm_multinomial(Tensor probabilities, long samples, int replacement);

    [LibraryImport(Library)] internal static partial IntPtr olm_softmax(Tensor t, long dim);
    [LibraryImport(Library)] internal static partial IntPtr olm_log_softmax(Tensor t, long dim);
    [LibraryImport(Library)] internal static partial IntPtr olm_embedding(Tensor weight, Tensor indices, long paddingIndex);
    [LibraryImport(Library)] internal static partial IntPtr olm_layer_norm(Tensor x, long* normalizedShape, long ndim, Tensor? weight, Tensor? bias, double eps);
    [LibraryImport(Library)] internal static partial IntPtr olm_dropout(Tensor x, double p, int train);
    [LibraryImport(Library)] internal static partial IntPtr olm_causal_attention(Tensor q, Tensor k, Tensor v, long past, double dropoutP);
    [LibraryImport(Library)] internal static partial IntPtr olm_cross_entropy(Tensor logits, Tensor target, long reduction, long ignoreIndex, double labelSmoothing);

    [LibraryImport(Library)] internal static partial int olm_set_requires_grad(Tensor t, int requiresGrad);
    [LibraryImport(Library)] internal static partial int olm_backward(Tensor t, Tensor? gradient, int retainGraph);
    [LibraryImport(Library)] internal static partial int olm_grad(Tensor t, out IntPtr grad);
    [LibraryImport(Library)] internal static partial int olm_set_grad(Tensor t, Tensor? grad);
    [LibraryImport(Library)] internal static partial IntPtr olm_detach(Tensor t);
    [LibraryImport(Library)] internal static partial int olm_is_leaf(Tensor t);
    [LibraryImport(Library)] internal static partial int olm_set_data(Tensor t, Tensor data);

    internal static string LastError() => Marshal.PtrToStringUTF8(olm_last_error()) ?? "unknown libtorch error";

    /// <summary>Throws the pending libtorch error when a status-returning call failed.</summary>
    internal static void Check(int status)
    {
        if (status != 0) throw new TorchException(LastError());
    }
}

// Values mirror the enums of olm_torch.h.
internal enum UnaryOp
{
    Neg, Exp, Log, Tanh, Sigmoid, Relu, Gelu, GeluTanh, LeakyRelu, Sqrt, Rsqrt, Abs, Square, Sin, Cos, Log1p,
    ClampMin, ClampMax, PowScalar, RsubScalar, RdivScalar, AddScalar, MulScalar, LogicalNot,
}

internal enum BinaryOp
{
    Add, Sub, Mul, Div, Pow, Maximum, Minimum, Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,
}

internal enum InPlaceOp { Add, Sub, Mul, Div, Lerp }

internal enum InPlaceScalarOp { Add, Mul, Fill, ClampMin, ClampMax, Sqrt }
