// C ABI over libtorch for OrleansLm.Model (model/Torch/Native.cs is its only caller).
//
// Conventions:
// - A tensor handle owns one reference to an at::Tensor; olm_free releases it.
// - Functions returning a handle return NULL on failure; functions returning int return
//   0 on success and -1 on failure. After a failure, olm_last_error() holds libtorch's message
//   (per thread, valid until the next failure on that thread). No C++ exception crosses this ABI.
// - Optional tensor arguments (bias, weight, gradient) may be NULL.
// - dtype codes are c10::ScalarType values; devices are (c10::DeviceType, index), index -1 = default.
#pragma once
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OLM_API __attribute__((visibility("default")))

typedef void* olm_tensor;

// Element-wise operations selected by code keep the ABI small; the C# enums mirror these values.
enum olm_unary_op {
  OLM_NEG = 0, OLM_EXP, OLM_LOG, OLM_TANH, OLM_SIGMOID, OLM_RELU, OLM_GELU, OLM_GELU_TANH,
  OLM_LEAKY_RELU, OLM_SQRT, OLM_RSQRT, OLM_ABS, OLM_SQUARE, OLM_SIN, OLM_COS, OLM_LOG1P,
  OLM_CLAMP_MIN, OLM_CLAMP_MAX, OLM_POW_SCALAR, OLM_RSUB_SCALAR, OLM_RDIV_SCALAR,
  OLM_ADD_SCALAR, OLM_MUL_SCALAR, OLM_LOGICAL_NOT
};

enum olm_binary_op {
  OLM_ADD = 0, OLM_SUB, OLM_MUL, OLM_DIV, OLM_POW, OLM_MAXIMUM, OLM_MINIMUM,
  OLM_EQ, OLM_NE, OLM_LT, OLM_LE, OLM_GT, OLM_GE, OLM_LOGICAL_AND, OLM_LOGICAL_OR
};

enum olm_inplace_op {
  OLM_ADD_ = 0, OLM_SUB_, OLM_MUL_, OLM_DIV_, OLM_LERP_
};

enum olm_inplace_scalar_op {
  OLM_ADD_SCALAR_ = 0, OLM_MUL_SCALAR_, OLM_FILL_, OLM_CLAMP_MIN_, OLM_CLAMP_MAX_, OLM_SQRT_
};

// ---- runtime ----
OLM_API const char* olm_last_error(void);
OLM_API const char* olm_version(void);
OLM_API int64_t olm_live_tensors(void);
OLM_API int olm_manual_seed(uint64_t seed);
OLM_API olm_tensor olm_get_rng_state(void);          // the CPU generator's state as a uint8 tensor
OLM_API int olm_set_rng_state(olm_tensor state);
OLM_API int olm_set_num_threads(int threads);
OLM_API int olm_get_num_threads(void);
OLM_API int olm_cuda_device_count(void);
OLM_API int olm_cuda_synchronize(int device_index);  // waits for the device's queued kernels; -1 = current
OLM_API int olm_allow_tf32(void);                     // 1 when cuBLAS and cuDNN may use TF32 for Float32
OLM_API int olm_set_allow_tf32(int allow);
// Autocast regions (torch.autocast) are per thread: enter and exit on the same one. enter writes the
// state it replaced, which exit restores.
OLM_API int olm_autocast_enter(int device_type, int dtype, int* previous_enabled, int* previous_dtype);
OLM_API int olm_autocast_exit(int device_type, int previous_enabled, int previous_dtype);
OLM_API int olm_autocast_enabled(int device_type);
OLM_API int olm_grad_enabled(void);
OLM_API int olm_set_grad_enabled(int enabled);  // returns the previous mode

// ---- lifecycle and metadata ----
OLM_API void olm_free(olm_tensor t);
OLM_API int64_t olm_dim(olm_tensor t);
OLM_API int64_t olm_sizes(olm_tensor t, int64_t* out, int64_t capacity);
OLM_API int olm_dtype(olm_tensor t);
OLM_API int olm_device(olm_tensor t, int* type, int* index);
OLM_API int64_t olm_numel(olm_tensor t);
OLM_API int olm_requires_grad(olm_tensor t);
OLM_API int olm_is_contiguous(olm_tensor t);
OLM_API int olm_item_double(olm_tensor t, double* out);
OLM_API int olm_item_long(olm_tensor t, int64_t* out);
OLM_API int olm_copy_to_host(olm_tensor t, void* dst, int64_t nbytes);

// ---- creation ----
OLM_API olm_tensor olm_full(const int64_t* shape, int64_t ndim, double value, int dtype,
                            int device_type, int device_index, int requires_grad);
OLM_API olm_tensor olm_arange(double start, double end, double step, int dtype,
                              int device_type, int device_index);
OLM_API olm_tensor olm_randn(const int64_t* shape, int64_t ndim, int dtype,
                             int device_type, int device_index, int requires_grad);
OLM_API olm_tensor olm_rand(const int64_t* shape, int64_t ndim, int dtype,
                            int device_type, int device_index, int requires_grad);
OLM_API olm_tensor olm_randint(int64_t low, int64_t high, const int64_t* shape, int64_t ndim,
                               int device_type, int device_index);
OLM_API olm_tensor olm_from_host(const void* data, const int64_t* shape, int64_t ndim, int dtype,
                                 int device_type, int device_index, int requires_grad);
OLM_API olm_tensor olm_to(olm_tensor t, int dtype, int device_type, int device_index);
OLM_API olm_tensor olm_clone(olm_tensor t);
OLM_API olm_tensor olm_empty_pinned(const int64_t* shape, int64_t ndim, int dtype);  // page-locked host memory; needs CUDA
OLM_API int olm_copy_(olm_tensor self, olm_tensor source, int non_blocking);

// ---- shape ----
OLM_API olm_tensor olm_view(olm_tensor t, const int64_t* shape, int64_t ndim);
OLM_API olm_tensor olm_reshape(olm_tensor t, const int64_t* shape, int64_t ndim);
OLM_API olm_tensor olm_expand(olm_tensor t, const int64_t* shape, int64_t ndim);
OLM_API olm_tensor olm_permute(olm_tensor t, const int64_t* dims, int64_t ndim);
OLM_API olm_tensor olm_transpose(olm_tensor t, int64_t dim0, int64_t dim1);
OLM_API olm_tensor olm_contiguous(olm_tensor t);
OLM_API olm_tensor olm_narrow(olm_tensor t, int64_t dim, int64_t start, int64_t length);
OLM_API olm_tensor olm_select(olm_tensor t, int64_t dim, int64_t index);
OLM_API olm_tensor olm_squeeze(olm_tensor t, int64_t dim);
OLM_API olm_tensor olm_unsqueeze(olm_tensor t, int64_t dim);
OLM_API olm_tensor olm_flatten(olm_tensor t, int64_t start_dim, int64_t end_dim);
OLM_API olm_tensor olm_cat(const olm_tensor* tensors, int64_t count, int64_t dim);
OLM_API olm_tensor olm_stack(const olm_tensor* tensors, int64_t count, int64_t dim);

// ---- element-wise ----
OLM_API olm_tensor olm_unary(int op, olm_tensor t, double param);
OLM_API olm_tensor olm_binary(int op, olm_tensor a, olm_tensor b, double alpha);
OLM_API olm_tensor olm_binary_scalar(int op, olm_tensor a, double b);
OLM_API olm_tensor olm_where(olm_tensor condition, olm_tensor a, olm_tensor b);
OLM_API olm_tensor olm_masked_fill(olm_tensor t, olm_tensor mask, double value);
OLM_API olm_tensor olm_tril(olm_tensor t, int64_t diagonal);
OLM_API olm_tensor olm_triu(olm_tensor t, int64_t diagonal);

// ---- in-place (optimizers, initialisation) ----
OLM_API int olm_inplace(int op, olm_tensor self, olm_tensor other, double alpha);
OLM_API int olm_inplace_scalar(int op, olm_tensor self, double value);
OLM_API int olm_addcmul_(olm_tensor self, olm_tensor t1, olm_tensor t2, double value);
OLM_API int olm_addcdiv_(olm_tensor self, olm_tensor t1, olm_tensor t2, double value);
OLM_API int olm_normal_(olm_tensor self, double mean, double std);
OLM_API int olm_uniform_(olm_tensor self, double low, double high);

// ---- linear algebra ----
OLM_API olm_tensor olm_matmul(olm_tensor a, olm_tensor b);
OLM_API olm_tensor olm_bmm(olm_tensor a, olm_tensor b);
OLM_API olm_tensor olm_addmm(olm_tensor bias, olm_tensor a, olm_tensor b, double beta, double alpha);
OLM_API olm_tensor olm_linear(olm_tensor x, olm_tensor weight, olm_tensor bias);

// ---- reductions (ndims == 0 reduces over all dimensions) ----
OLM_API olm_tensor olm_sum(olm_tensor t, const int64_t* dims, int64_t ndims, int keepdim);
OLM_API olm_tensor olm_mean(olm_tensor t, const int64_t* dims, int64_t ndims, int keepdim);
OLM_API olm_tensor olm_max_all(olm_tensor t);
OLM_API int olm_max_dim(olm_tensor t, int64_t dim, int keepdim, olm_tensor* values, olm_tensor* indices);
OLM_API olm_tensor olm_argmax(olm_tensor t, int64_t dim, int keepdim);
OLM_API olm_tensor olm_norm(olm_tensor t, double p);
OLM_API olm_tensor olm_logsumexp(olm_tensor t, int64_t dim, int keepdim);
OLM_API olm_tensor olm_cumsum(olm_tensor t, int64_t dim);

// ---- indexing, sorting, sampling ----
OLM_API olm_tensor olm_gather(olm_tensor t, int64_t dim, olm_tensor index);
OLM_API olm_tensor olm_index_select(olm_tensor t, int64_t dim, olm_tensor index);
OLM_API int olm_topk(olm_tensor t, int64_t k, int64_t dim, int largest, int sorted,
                     olm_tensor* values, olm_tensor* indices);
OLM_API int olm_sort(olm_tensor t, int64_t dim, int descending, olm_tensor* values, olm_tensor* indices);
OLM_API olm_tensor olm_multinomial(olm_tensor probs, int64_t num_samples, int replacement);

// ---- neural-network functions ----
OLM_API olm_tensor olm_softmax(olm_tensor t, int64_t dim);
OLM_API olm_tensor olm_log_softmax(olm_tensor t, int64_t dim);
OLM_API olm_tensor olm_embedding(olm_tensor weight, olm_tensor indices, int64_t padding_idx);
OLM_API olm_tensor olm_layer_norm(olm_tensor x, const int64_t* normalized_shape, int64_t ndim,
                                  olm_tensor weight, olm_tensor bias, double eps);
OLM_API olm_tensor olm_dropout(olm_tensor x, double p, int train);
// q [B, H, T, d_k] attends to k, v [B, H, S + T, d_k] at or before its own position past + i.
OLM_API olm_tensor olm_causal_attention(olm_tensor q, olm_tensor k, olm_tensor v, int64_t past, double dropout_p);
OLM_API olm_tensor olm_cross_entropy(olm_tensor logits, olm_tensor target, int64_t reduction,
                                     int64_t ignore_index, double label_smoothing);

// ---- autograd ----
OLM_API int olm_set_requires_grad(olm_tensor t, int requires_grad);
OLM_API int olm_backward(olm_tensor t, olm_tensor gradient, int retain_graph);
OLM_API int olm_grad(olm_tensor t, olm_tensor* out);  // *out = NULL when no gradient exists
OLM_API int olm_set_grad(olm_tensor t, olm_tensor grad);  // grad NULL clears it
OLM_API olm_tensor olm_detach(olm_tensor t);
OLM_API int olm_set_data(olm_tensor t, olm_tensor data);  // swaps storage, keeps identity (Parameter.data = ...)
OLM_API int olm_is_leaf(olm_tensor t);

#ifdef __cplusplus
}
#endif
