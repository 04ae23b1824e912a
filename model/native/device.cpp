// Accelerator entry points: CUDA queries and synchronisation, TF32, autocast, pinned host memory.
// The same source builds against Debian's CPU libtorch 1.13 and PyTorch's CUDA libtorch 2.x; where
// libtorch renamed an API, TORCH_VERSION picks the spelling.
#include <ATen/autocast_mode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include "olm_internal.h"

using olm::ref;

namespace {
at::DeviceType autocast_device(int device_type) {
  const auto type = static_cast<at::DeviceType>(device_type);
  TORCH_CHECK(type == at::kCPU || type == at::kCUDA, "autocast: device type ", device_type, " is neither CPU nor CUDA");
  return type;
}

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool autocast_enabled(at::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
void set_autocast_enabled(at::DeviceType type, bool enabled) { at::autocast::set_autocast_enabled(type, enabled); }
at::ScalarType autocast_dtype(at::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
void set_autocast_dtype(at::DeviceType type, at::ScalarType dtype) { at::autocast::set_autocast_dtype(type, dtype); }
#else
bool autocast_enabled(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
}
void set_autocast_enabled(at::DeviceType type, bool enabled) {
  if (type == at::kCUDA) at::autocast::set_enabled(enabled);
  else at::autocast::set_cpu_enabled(enabled);
}
at::ScalarType autocast_dtype(at::DeviceType type) {
  return type == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
}
void set_autocast_dtype(at::DeviceType type, at::ScalarType dtype) {
  if (type == at::kCUDA) at::autocast::set_autocast_gpu_dtype(dtype);
  else at::autocast::set_autocast_cpu_dtype(dtype);
}
#endif
}  // namespace

extern "C" {

int olm_cuda_synchronize(int device_index) {
  OLM_RETURN_STATUS(torch::cuda::synchronize(static_cast<int64_t>(device_index)))
}

int olm_allow_tf32(void) {
  auto& context = at::globalContext();
  return context.allowTF32CuBLAS() && context.allowTF32CuDNN() ? 1 : 0;
}
int olm_set_allow_tf32(int allow) {
  try {
    auto& context = at::globalContext();
    context.setAllowTF32CuBLAS(allow != 0);
    context.setAllowTF32CuDNN(allow != 0);
    return 0;
  }
  OLM_CATCH(-1)
}

int olm_autocast_enter(int device_type, int dtype, int* previous_enabled, int* previous_dtype) {
  try {
    const auto type = autocast_device(device_type);
    *previous_enabled = autocast_enabled(type) ? 1 : 0;
    *previous_dtype = static_cast<int>(autocast_dtype(type));
    set_autocast_dtype(type, static_cast<at::ScalarType>(dtype));
    set_autocast_enabled(type, true);
    at::autocast::increment_nesting();
    return 0;
  }
  OLM_CATCH(-1)
}
int olm_autocast_exit(int device_type, int previous_enabled, int previous_dtype) {
  try {
    const auto type = autocast_device(device_type);
    // As torch.autocast's __exit__: the cast weights are cached for the outermost region only.
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    set_autocast_enabled(type, previous_enabled != 0);
    set_autocast_dtype(type, static_cast<at::ScalarType>(previous_dtype));
    return 0;
  }
  OLM_CATCH(-1)
}
int olm_autocast_enabled(int device_type) {
  try {
    return autocast_enabled(autocast_device(device_type)) ? 1 : 0;
  }
  OLM_CATCH(-1)
}

olm_tensor olm_empty_pinned(const int64_t* shape, int64_t ndim, int dtype) {
  OLM_RETURN_TENSOR(at::empty(olm::dims(shape, ndim), olm::options(dtype, 0, -1).pinned_memory(true)))
}
int olm_copy_(olm_tensor self, olm_tensor source, int non_blocking) {
  OLM_RETURN_STATUS(ref(self).copy_(ref(source), non_blocking != 0))
}

// softmax(Q Kᵀ / √d_k + M) V with M hiding the keys after each query; query i sits at position past + i.
// Without a cache (past = 0) libtorch 2 runs its fused kernels (flash or memory-efficient attention on
// CUDA); otherwise, and on libtorch 1.x, the same equation op by op.
olm_tensor olm_causal_attention(olm_tensor q, olm_tensor k, olm_tensor v, int64_t past, double dropout_p) {
  try {
    const at::Tensor& query = ref(q);  // [B, H, T, d_k]
    const at::Tensor& key = ref(k);    // [B, H, S + T, d_k]
    const at::Tensor& value = ref(v);  // [B, H, S + T, d_k]
#if TORCH_VERSION_MAJOR >= 2
    if (past == 0) return olm::wrap(at::scaled_dot_product_attention(query, key, value, {}, dropout_p, true));
#endif
    const int64_t time = query.size(2);
    const auto positions = at::TensorOptions().dtype(at::kLong).device(query.device());
    const auto query_positions = at::arange(past, past + time, positions).unsqueeze(1);  // [T, 1]
    const auto key_positions = at::arange(0, past + time, positions).unsqueeze(0);       // [1, S + T]
    const auto scores = query.matmul(key.transpose(-2, -1)) / std::sqrt(static_cast<double>(query.size(-1)));
    const auto weights = scores.masked_fill(key_positions.gt(query_positions), -INFINITY).softmax(-1);
    return olm::wrap(at::dropout(weights, dropout_p, dropout_p > 0).matmul(value));
  }
  OLM_CATCH(nullptr)
}

}  // extern "C"
