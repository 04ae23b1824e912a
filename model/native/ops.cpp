// Tensor math: element-wise, in-place, linear algebra, reductions, indexing and NN functions.
#include "olm_internal.h"

using olm::ref;

namespace {

at::Tensor unary(int op, const at::Tensor& t, double param) {
  switch (op) {
    case OLM_NEG: return t.neg();
    case OLM_EXP: return t.exp();
    case OLM_LOG: return t.log();
    case OLM_TANH: return t.tanh();
    case OLM_SIGMOID: return t.sigmoid();
    case OLM_RELU: return t.relu();
    case OLM_GELU: return at::gelu(t);
    case OLM_GELU_TANH: return at::gelu(t, "tanh");
    case OLM_LEAKY_RELU: return at::leaky_relu(t, olm::scalar(param));
    case OLM_SQRT: return t.sqrt();
    case OLM_RSQRT: return t.rsqrt();
    case OLM_ABS: return t.abs();
    case OLM_SQUARE: return t.square();
    case OLM_SIN: return t.sin();
    case OLM_COS: return t.cos();
    case OLM_LOG1P: return t.log1p();
    case OLM_CLAMP_MIN: return t.clamp_min(olm::scalar(param));
    case OLM_CLAMP_MAX: return t.clamp_max(olm::scalar(param));
    case OLM_POW_SCALAR: return t.pow(olm::scalar(param));
    case OLM_RSUB_SCALAR: return at::rsub(t, olm::scalar(param));
    case OLM_RDIV_SCALAR: return t.reciprocal().mul(olm::scalar(param));
    case OLM_ADD_SCALAR: return t.add(olm::scalar(param));
    case OLM_MUL_SCALAR: return t.mul(olm::scalar(param));
    case OLM_LOGICAL_NOT: return t.logical_not();
    default: TORCH_CHECK(false, "unknown unary op code ", op);
  }
}

at::Tensor binary(int op, const at::Tensor& a, const at::Tensor& b, double alpha) {
  switch (op) {
    case OLM_ADD: return a.add(b, olm::scalar(alpha));
    case OLM_SUB: return a.sub(b, olm::scalar(alpha));
    case OLM_MUL: return a.mul(b);
    case OLM_DIV: return a.div(b);
    case OLM_POW: return a.pow(b);
    case OLM_MAXIMUM: return at::maximum(a, b);
    case OLM_MINIMUM: return at::minimum(a, b);
    case OLM_EQ: return a.eq(b);
    case OLM_NE: return a.ne(b);
    case OLM_LT: return a.lt(b);
    case OLM_LE: return a.le(b);
    case OLM_GT: return a.gt(b);
    case OLM_GE: return a.ge(b);
    case OLM_LOGICAL_AND: return a.logical_and(b);
    case OLM_LOGICAL_OR: return a.logical_or(b);
    default: TORCH_CHECK(false, "unknown binary op code ", op);
  }
}

// Scalar arithmetic other than division goes through unary(); this covers the rest.
at::Tensor binary_scalar(int op, const at::Tensor& a, double b) {
  switch (op) {
    case OLM_DIV: return a.div(olm::scalar(b));
    case OLM_EQ: return a.eq(olm::scalar(b));
    case OLM_NE: return a.ne(olm::scalar(b));
    case OLM_LT: return a.lt(olm::scalar(b));
    case OLM_LE: return a.le(olm::scalar(b));
    case OLM_GT: return a.gt(olm::scalar(b));
    case OLM_GE: return a.ge(olm::scalar(b));
    default: TORCH_CHECK(false, "op code ", op, " takes no scalar operand");
  }
}

void inplace(int op, at::Tensor& self, const at::Tensor& other, double alpha) {
  switch (op) {
    case OLM_ADD_: self.add_(other, olm::scalar(alpha)); return;
    case OLM_SUB_: self.sub_(other, olm::scalar(alpha)); return;
    case OLM_MUL_: self.mul_(other); return;
    case OLM_DIV_: self.div_(other); return;
    case OLM_LERP_: self.lerp_(other, alpha); return;
    default: TORCH_CHECK(false, "unknown in-place op code ", op);
  }
}

void inplace_scalar(int op, at::Tensor& self, double value) {
  switch (op) {
    case OLM_ADD_SCALAR_: self.add_(olm::scalar(value)); return;
    case OLM_MUL_SCALAR_: self.mul_(olm::scalar(value)); return;
    case OLM_FILL_: self.fill_(olm::scalar(value)); return;
    case OLM_CLAMP_MIN_: self.clamp_min_(olm::scalar(value)); return;
    case OLM_CLAMP_MAX_: self.clamp_max_(olm::scalar(value)); return;
    case OLM_SQRT_: self.sqrt_(); return;
    default: TORCH_CHECK(false, "unknown in-place scalar op code ", op);
  }
}

int pair(std::tuple<at::Tensor, at::Tensor>&& result, olm_tensor* first, olm_tensor* second) {
  *first = olm::wrap(std::move(std::get<0>(result)));
  *second = olm::wrap(std::move(std::get<1>(result)));
  return 0;
}

}  // namespace

extern "C" {

// ---- element-wise ----
olm_tensor olm_unary(int op, olm_tensor t, double param) { OLM_RETURN_TENSOR(unary(op, ref(t), param)) }
olm_tensor olm_binary(int op, olm_tensor a, olm_tensor b, double alpha) {
  OLM_RETURN_TENSOR(binary(op, ref(a), ref(b), alpha))
}
olm_tensor olm_binary_scalar(int op, olm_tensor a, double b) { OLM_RETURN_TENSOR(binary_scalar(op, ref(a), b)) }
olm_tensor olm_where(olm_tensor condition, olm_tensor a, olm_tensor b) {
  OLM_RETURN_TENSOR(at::where(ref(condition), ref(a), ref(b)))
}
olm_tensor olm_masked_fill(olm_tensor t, olm_tensor mask, double value) {
  OLM_RETURN_TENSOR(ref(t).masked_fill(ref(mask), olm::scalar(value)))
}
olm_tensor olm_tril(olm_tensor t, int64_t diagonal) { OLM_RETURN_TENSOR(ref(t).tril(diagonal)) }
olm_tensor olm_triu(olm_tensor t, int64_t diagonal) { OLM_RETURN_TENSOR(ref(t).triu(diagonal)) }

// ---- in-place ----
int olm_inplace(int op, olm_tensor self, olm_tensor other, double alpha) {
  OLM_RETURN_STATUS(inplace(op, ref(self), ref(other), alpha))
}
int olm_inplace_scalar(int op, olm_tensor self, double value) { OLM_RETURN_STATUS(inplace_scalar(op, ref(self), value)) }
int olm_addcmul_(olm_tensor self, olm_tensor t1, olm_tensor t2, double value) {
  OLM_RETURN_STATUS(ref(self).addcmul_(ref(t1), ref(t2), olm::scalar(value)))
}
int olm_addcdiv_(olm_tensor self, olm_tensor t1, olm_tensor t2, double value) {
  OLM_RETURN_STATUS(ref(self).addcdiv_(ref(t1), ref(t2), olm::scalar(value)))
}
int olm_normal_(olm_tensor self, double mean, double std) { OLM_RETURN_STATUS(ref(self).normal_(mean, std)) }
int olm_uniform_(olm_tensor self, double low, double high) { OLM_RETURN_STATUS(ref(self).uniform_(low, high)) }

// ---- linear algebra ----
olm_tensor olm_matmul(olm_tensor a, olm_tensor b) { OLM_RETURN_TENSOR(ref(a).matmul(ref(b))) }
olm_tensor olm_bmm(olm_tensor a, olm_tensor b) { OLM_RETURN_TENSOR(ref(a).bmm(ref(b))) }
olm_tensor olm_addmm(olm_tensor bias, olm_tensor a, olm_tensor b, double beta, double alpha) {
  OLM_RETURN_TENSOR(at::addmm(ref(bias), ref(a), ref(b), olm::scalar(beta), olm::scalar(alpha)))
}
olm_tensor olm_linear(olm_tensor x, olm_tensor weight, olm_tensor bias) {
  OLM_RETURN_TENSOR(at::linear(ref(x), ref(weight), olm::optional(bias)))
}

// ---- reductions ----
olm_tensor olm_sum(olm_tensor t, const int64_t* dims, int64_t ndims, int keepdim) {
  OLM_RETURN_TENSOR(ndims == 0 ? ref(t).sum() : ref(t).sum(olm::dims(dims, ndims), keepdim != 0))
}
olm_tensor olm_mean(olm_tensor t, const int64_t* dims, int64_t ndims, int keepdim) {
  OLM_RETURN_TENSOR(ndims == 0 ? ref(t).mean() : ref(t).mean(olm::dims(dims, ndims), keepdim != 0))
}
olm_tensor olm_max_all(olm_tensor t) { OLM_RETURN_TENSOR(ref(t).max()) }
int olm_max_dim(olm_tensor t, int64_t dim, int keepdim, olm_tensor* values, olm_tensor* indices) {
  try {
    return pair(ref(t).max(dim, keepdim != 0), values, indices);
  }
  OLM_CATCH(-1)
}
olm_tensor olm_argmax(olm_tensor t, int64_t dim, int keepdim) { OLM_RETURN_TENSOR(ref(t).argmax(dim, keepdim != 0)) }
olm_tensor olm_norm(olm_tensor t, double p) { OLM_RETURN_TENSOR(ref(t).norm(p)) }
olm_tensor olm_logsumexp(olm_tensor t, int64_t dim, int keepdim) {
  OLM_RETURN_TENSOR(ref(t).logsumexp(dim, keepdim != 0))
}
olm_tensor olm_cumsum(olm_tensor t, int64_t dim) { OLM_RETURN_TENSOR(ref(t).cumsum(dim)) }

// ---- indexing, sorting, sampling ----
olm_tensor olm_gather(olm_tensor t, int64_t dim, olm_tensor index) { OLM_RETURN_TENSOR(ref(t).gather(dim, ref(index))) }
olm_tensor olm_index_select(olm_tensor t, int64_t dim, olm_tensor index) {
  OLM_RETURN_TENSOR(ref(t).index_select(dim, ref(index)))
}
int olm_topk(olm_tensor t, int64_t k, int64_t dim, int largest, int sorted, olm_tensor* values, olm_tensor* indices) {
  try {
    return pair(ref(t).topk(k, dim, largest != 0, sorted != 0), values, indices);
  }
  OLM_CATCH(-1)
}
int olm_sort(olm_tensor t, int64_t dim, int descending, olm_tensor* values, olm_tensor* indices) {
  try {
    return pair(ref(t).sort(dim, descending != 0), values, indices);
  }
  OLM_CATCH(-1)
}
olm_tensor olm_multinomial(olm_tensor probs, int64_t num_samples, int replacement) {
  OLM_RETURN_TENSOR(ref(probs).multinomial(num_samples, replacement != 0))
}

// ---- neural-network functions ----
olm_tensor olm_softmax(olm_tensor t, int64_t dim) { OLM_RETURN_TENSOR(ref(t).softmax(dim)) }
olm_tensor olm_log_softmax(olm_tensor t, int64_t dim) { OLM_RETURN_TENSOR(ref(t).log_softmax(dim)) }
olm_tensor olm_embedding(olm_tensor weight, olm_tensor indices, int64_t padding_idx) {
  OLM_RETURN_TENSOR(at::embedding(ref(weight), ref(indices), padding_idx))
}
olm_tensor olm_layer_norm(olm_tensor x, const int64_t* normalized_shape, int64_t ndim, olm_tensor weight,
                          olm_tensor bias, double eps) {
  OLM_RETURN_TENSOR(at::layer_norm(ref(x), olm::dims(normalized_shape, ndim), olm::optional(weight),
                                   olm::optional(bias), eps))
}
olm_tensor olm_dropout(olm_tensor x, double p, int train) { OLM_RETURN_TENSOR(at::dropout(ref(x), p, train != 0)) }
olm_tensor olm_cross_entropy(olm_tensor logits, olm_tensor target, int64_t reduction, int64_t ignore_index,
                             double label_smoothing) {
  OLM_RETURN_TENSOR(at::cross_entropy_loss(ref(logits), ref(target), c10::nullopt, reduction, ignore_index,
                                           label_smoothing))
}

}  // extern "C"
