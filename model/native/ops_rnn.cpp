// Fused recurrent kernels: see olm_rnn.h.
#include <vector>

#include "olm_internal.h"
#include "olm_rnn.h"

using olm::ref;

int olm_rnn_fused(int mode, olm_tensor input, olm_tensor h0, olm_tensor c0, const olm_tensor* params,
                  int64_t param_count, int64_t num_layers, double dropout, int train, int bidirectional,
                  olm_tensor* output, olm_tensor* h_n, olm_tensor* c_n) {
  try {
    std::vector<at::Tensor> weights;
    weights.reserve(static_cast<size_t>(param_count));
    for (int64_t i = 0; i < param_count; ++i) weights.push_back(ref(params[i]));
    const bool training = train != 0, both = bidirectional != 0;
    at::Tensor out, h, c;
    switch (mode) {
      case OLM_RNN_TANH:
        std::tie(out, h) = at::rnn_tanh(ref(input), ref(h0), weights, true, num_layers, dropout, training, both, true);
        break;
      case OLM_RNN_LSTM:
        TORCH_CHECK(c0 != nullptr, "olm_rnn_fused: an LSTM needs an initial cell state c0");
        std::tie(out, h, c) = at::lstm(ref(input), {ref(h0), ref(c0)}, weights, true, num_layers, dropout, training, both, true);
        break;
      case OLM_RNN_GRU:
        std::tie(out, h) = at::gru(ref(input), ref(h0), weights, true, num_layers, dropout, training, both, true);
        break;
      default:
        TORCH_CHECK(false, "olm_rnn_fused: unknown mode ", mode);
    }
    *output = olm::wrap(std::move(out));
    *h_n = olm::wrap(std::move(h));
    *c_n = c.defined() ? olm::wrap(std::move(c)) : nullptr;
    return 0;
  }
  OLM_CATCH(-1)
}
