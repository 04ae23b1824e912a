// Runtime, lifecycle, metadata, creation, shape and autograd entry points.
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>
#include <torch/cuda.h>
#include <torch/version.h>

#include <dlfcn.h>

#include <cstring>
#include <mutex>
#include <vector>

#include "olm_internal.h"

namespace olm {
std::atomic<int64_t> live_tensors{0};
thread_local std::string last_error;
void set_error(const char* message) { last_error = message; }
}  // namespace olm

using olm::ref;

namespace {
std::vector<at::Tensor> tensor_list(const olm_tensor* tensors, int64_t count) {
  std::vector<at::Tensor> list;
  list.reserve(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) list.push_back(ref(tensors[i]));
  return list;
}
// Debian's libtorch runs its GEMMs in OpenBLAS's own thread pool, which at::set_num_threads does
// not reach. OpenBLAS is looked up only if already loaded, so builds against MKL or CUDA are unaffected.
void set_openblas_threads(int threads) {
  for (const char* library : {"libopenblas.so.0", "libblas.so.3"}) {
    void* handle = dlopen(library, RTLD_LAZY | RTLD_NOLOAD);
    if (handle == nullptr) continue;
    auto set = reinterpret_cast<void (*)(int)>(dlsym(handle, "openblas_set_num_threads"));
    if (set != nullptr) set(threads);
    dlclose(handle);
    if (set != nullptr) return;
  }
}
}  // namespace

extern "C" {

const char* olm_last_error(void) { return olm::last_error.c_str(); }
const char* olm_version(void) { return TORCH_VERSION; }
int64_t olm_live_tensors(void) { return olm::live_tensors.load(std::memory_order_relaxed); }

int olm_manual_seed(uint64_t seed) { OLM_RETURN_STATUS(at::manual_seed(seed)) }
olm_tensor olm_get_rng_state(void) {
  try {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    return olm::wrap(generator.get_state());
  }
  OLM_CATCH(nullptr)
}
int olm_set_rng_state(olm_tensor state) {
  try {
    auto generator = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(generator.mutex());
    generator.set_state(ref(state));
    return 0;
  }
  OLM_CATCH(-1)
}
int olm_set_num_threads(int threads) {
  try {
    at::set_num_threads(threads);
    set_openblas_threads(threads);
    return 0;
  }
  OLM_CATCH(-1)
}
int olm_get_num_threads(void) { return at::get_num_threads(); }
int olm_cuda_device_count(void) {
  try {
    return static_cast<int>(torch::cuda::device_count());
  }
  OLM_CATCH(-1)
}
int olm_grad_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }
int olm_set_grad_enabled(int enabled) {
  const bool previous = c10::GradMode::is_enabled();
  c10::GradMode::set_enabled(enabled != 0);
  return previous ? 1 : 0;
}

// ---- lifecycle and metadata ----
void olm_free(olm_tensor t) {
  if (t == nullptr) return;
  delete static_cast<at::Tensor*>(t);
  olm::live_tensors.fetch_sub(1, std::memory_order_relaxed);
}
int64_t olm_dim(olm_tensor t) { return ref(t).dim(); }
int64_t olm_sizes(olm_tensor t, int64_t* out, int64_t capacity) {
  const auto sizes = ref(t).sizes();
  const int64_t n = static_cast<int64_t>(sizes.size());
  for (int64_t i = 0; i < n && i < capacity; ++i) out[i] = sizes[i];
  return n;
}
int olm_dtype(olm_tensor t) { return static_cast<int>(ref(t).scalar_type()); }
int olm_device(olm_tensor t, int* type, int* index) {
  const auto device = ref(t).device();
  *type = static_cast<int>(device.type());
  *index = device.index();
  return 0;
}
int64_t olm_numel(olm_tensor t) { return ref(t).numel(); }
int olm_requires_grad(olm_tensor t) { return ref(t).requires_grad() ? 1 : 0; }
int olm_is_contiguous(olm_tensor t) { return ref(t).is_contiguous() ? 1 : 0; }
int olm_item_double(olm_tensor t, double* out) { OLM_RETURN_STATUS(*out = ref(t).item<double>()) }
int olm_item_long(olm_tensor t, int64_t* out) { OLM_RETURN_STATUS(*out = ref(t).item<int64_t>()) }
int olm_copy_to_host(olm_tensor t, void* dst, int64_t nbytes) {
  try {
    const at::Tensor host = ref(t).detach().to(at::kCPU).contiguous();
    const int64_t have = host.numel() * static_cast<int64_t>(host.element_size());
    TORCH_CHECK(have == nbytes, "copy_to_host: tensor holds ", have, " bytes but the destination has ", nbytes);
    std::memcpy(dst, host.data_ptr(), static_cast<size_t>(nbytes));
    return 0;
  }
  OLM_CATCH(-1)
}

// ---- creation ----
olm_tensor olm_full(const int64_t* shape, int64_t ndim, double value, int dtype, int device_type,
                    int device_index, int requires_grad) {
  OLM_RETURN_TENSOR(at::full(olm::dims(shape, ndim), olm::scalar(value), olm::options(dtype, device_type, device_index))
                        .requires_grad_(requires_grad != 0))
}
olm_tensor olm_arange(double start, double end, double step, int dtype, int device_type, int device_index) {
  OLM_RETURN_TENSOR(at::arange(start, end, step, olm::options(dtype, device_type, device_index)))
}
olm_tensor olm_randn(const int64_t* shape, int64_t ndim, int dtype, int device_type, int device_index,
                     int requires_grad) {
  OLM_RETURN_TENSOR(at::randn(olm::dims(shape, ndim), olm::options(dtype, device_type, device_index))
                        .requires_grad_(requires_grad != 0))
}
olm_tensor olm_rand(const int64_t* shape, int64_t ndim, int dtype, int device_type, int device_index,
                    int requires_grad) {
  OLM_RETURN_TENSOR(at::rand(olm::dims(shape, ndim), olm::options(dtype, device_type, device_index))
                        .requires_grad_(requires_grad != 0))
}
olm_tensor olm_randint(int64_t low, int64_t high, const int64_t* shape, int64_t ndim, int device_type,
                       int device_index) {
  OLM_RETURN_TENSOR(at::randint(low, high, olm::dims(shape, ndim),
                                olm::options(static_cast<int>(at::kLong), device_type, device_index)))
}
olm_tensor olm_from_host(const void* data, const int64_t* shape, int64_t ndim, int dtype, int device_type,
                         int device_index, int requires_grad) {
  // from_blob borrows the caller's buffer, so the clone (or device copy) takes ownership before returning.
  OLM_RETURN_TENSOR(at::from_blob(const_cast<void*>(data), olm::dims(shape, ndim),
                                  at::TensorOptions().dtype(static_cast<at::ScalarType>(dtype)))
                        .to(at::Device(static_cast<at::DeviceType>(device_type),
                                       static_cast<c10::DeviceIndex>(device_index)),
                            /*non_blocking=*/false, /*copy=*/true)
                        .requires_grad_(requires_grad != 0))
}
olm_tensor olm_to(olm_tensor t, int dtype, int device_type, int device_index) {
  OLM_RETURN_TENSOR(ref(t).to(olm::options(dtype, device_type, device_index)))
}
olm_tensor olm_clone(olm_tensor t) { OLM_RETURN_TENSOR(ref(t).clone()) }

// ---- shape ----
olm_tensor olm_view(olm_tensor t, const int64_t* shape, int64_t ndim) {
  OLM_RETURN_TENSOR(ref(t).view(olm::dims(shape, ndim)))
}
olm_tensor olm_reshape(olm_tensor t, const int64_t* shape, int64_t ndim) {
  OLM_RETURN_TENSOR(ref(t).reshape(olm::dims(shape, ndim)))
}
olm_tensor olm_expand(olm_tensor t, const int64_t* shape, int64_t ndim) {
  OLM_RETURN_TENSOR(ref(t).expand(olm::dims(shape, ndim)))
}
olm_tensor olm_permute(olm_tensor t, const int64_t* dims, int64_t ndim) {
  OLM_RETURN_TENSOR(ref(t).permute(olm::dims(dims, ndim)))
}
olm_tensor olm_transpose(olm_tensor t, int64_t dim0, int64_t dim1) { OLM_RETURN_TENSOR(ref(t).transpose(dim0, dim1)) }
olm_tensor olm_contiguous(olm_tensor t) { OLM_RETURN_TENSOR(ref(t).contiguous()) }
olm_tensor olm_narrow(olm_tensor t, int64_t dim, int64_t start, int64_t length) {
  OLM_RETURN_TENSOR(ref(t).narrow(dim, start, length))
}
olm_tensor olm_select(olm_tensor t, int64_t dim, int64_t index) { OLM_RETURN_TENSOR(ref(t).select(dim, index)) }
olm_tensor olm_squeeze(olm_tensor t, int64_t dim) { OLM_RETURN_TENSOR(ref(t).squeeze(dim)) }
olm_tensor olm_unsqueeze(olm_tensor t, int64_t dim) { OLM_RETURN_TENSOR(ref(t).unsqueeze(dim)) }
olm_tensor olm_flatten(olm_tensor t, int64_t start_dim, int64_t end_dim) {
  OLM_RETURN_TENSOR(ref(t).flatten(start_dim, end_dim))
}
olm_tensor olm_cat(const olm_tensor* tensors, int64_t count, int64_t dim) {
  OLM_RETURN_TENSOR(at::cat(tensor_list(tensors, count), dim))
}
olm_tensor olm_stack(const olm_tensor* tensors, int64_t count, int64_t dim) {
  OLM_RETURN_TENSOR(at::stack(tensor_list(tensors, count), dim))
}

// ---- autograd ----
int olm_set_requires_grad(olm_tensor t, int requires_grad) {
  OLM_RETURN_STATUS(ref(t).requires_grad_(requires_grad != 0))
}
int olm_backward(olm_tensor t, olm_tensor gradient, int retain_graph) {
  OLM_RETURN_STATUS(ref(t).backward(gradient == nullptr ? at::Tensor() : ref(gradient), retain_graph != 0))
}
int olm_grad(olm_tensor t, olm_tensor* out) {
  try {
    const at::Tensor& grad = ref(t).grad();
    *out = grad.defined() ? olm::wrap(grad) : nullptr;
    return 0;
  }
  OLM_CATCH(-1)
}
int olm_set_grad(olm_tensor t, olm_tensor grad) {
  try {
    at::Tensor& self = ref(t);
    if (grad != nullptr) {
      // The checks torch.Tensor.grad's setter makes: an optimizer would otherwise broadcast a wrong gradient.
      const at::Tensor& g = ref(grad);
      TORCH_CHECK(g.sizes() == self.sizes(), "assigned grad has data of a different size: expected ", self.sizes(),
                  ", got ", g.sizes());
      TORCH_CHECK(g.scalar_type() == self.scalar_type(), "assigned grad has data of a different type: expected ",
                  self.scalar_type(), ", got ", g.scalar_type());
      TORCH_CHECK(g.device() == self.device(), "assigned grad has data located on a different device: expected ",
                  self.device(), ", got ", g.device());
    }
    self.mutable_grad() = grad == nullptr ? at::Tensor() : ref(grad);
    return 0;
  }
  OLM_CATCH(-1)
}
olm_tensor olm_detach(olm_tensor t) { OLM_RETURN_TENSOR(ref(t).detach()) }
int olm_set_data(olm_tensor t, olm_tensor data) { OLM_RETURN_STATUS(ref(t).set_data(ref(data))) }
int olm_is_leaf(olm_tensor t) { return ref(t).is_leaf() ? 1 : 0; }

}  // extern "C"
