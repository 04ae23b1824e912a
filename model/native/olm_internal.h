// Shared helpers for the shim's translation units: handle wrapping and the exception barrier.
#pragma once
#include <ATen/ATen.h>

#include <atomic>
#include <cmath>
#include <string>

#include "olm_torch.h"

namespace olm {

extern std::atomic<int64_t> live_tensors;

void set_error(const char* message);

inline at::Tensor& ref(olm_tensor t) { return *static_cast<at::Tensor*>(t); }

inline c10::optional<at::Tensor> optional(olm_tensor t) {
  return t == nullptr ? c10::optional<at::Tensor>() : c10::optional<at::Tensor>(ref(t));
}

inline olm_tensor wrap(at::Tensor t) {
  live_tensors.fetch_add(1, std::memory_order_relaxed);
  return new at::Tensor(std::move(t));
}

// C# hands every scalar over as a double; an integral value goes to libtorch as an integer so that
// integer tensors stay integer (libtorch refuses a floating alpha for them, and would promote others).
inline at::Scalar scalar(double value) {
  const bool integral = std::nearbyint(value) == value && std::abs(value) < 9.0e15;
  return integral ? at::Scalar(static_cast<int64_t>(value)) : at::Scalar(value);
}

inline at::IntArrayRef dims(const int64_t* values, int64_t count) {
  return at::IntArrayRef(values, static_cast<size_t>(count));
}

inline at::TensorOptions options(int dtype, int device_type, int device_index) {
  return at::TensorOptions()
      .dtype(static_cast<at::ScalarType>(dtype))
      .device(at::Device(static_cast<at::DeviceType>(device_type),
                         static_cast<c10::DeviceIndex>(device_index)));
}

}  // namespace olm

// Every exported function body runs inside one of these: C++ exceptions become an error string.
#define OLM_CATCH(failure)                                        \
  catch (const c10::Error& e) {                                   \
    olm::set_error(e.what_without_backtrace());                   \
    return failure;                                               \
  }                                                               \
  catch (const std::exception& e) {                               \
    olm::set_error(e.what());                                     \
    return failure;                                               \
  }                                                               \
  catch (...) {                                                   \
    olm::set_error("unknown C++ exception in libtorch");          \
    return failure;                                               \
  }

#define OLM_RETURN_TENSOR(expression) \
  try {                               \
    return olm::wrap(expression);     \
  }                                   \
  OLM_CATCH(nullptr)

#define OLM_RETURN_STATUS(statement) \
  try {                              \
    statement;                       \
    return 0;                        \
  }                                  \
  OLM_CATCH(-1)
