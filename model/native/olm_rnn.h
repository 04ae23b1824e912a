// C ABI for libtorch's fused recurrent kernels (at::rnn_tanh, at::lstm, at::gru); the model's own
// cells are composed from primitives and stay the reference, these run the same equations faster.
#pragma once
#include "olm_torch.h"

#ifdef __cplusplus
extern "C" {
#endif

enum olm_rnn_mode { OLM_RNN_TANH = 0, OLM_RNN_LSTM, OLM_RNN_GRU };

// Runs a stacked (optionally bidirectional) recurrent network over batch-first input [B, T, in].
// h0 (and c0, LSTM only; NULL otherwise) are [D·L, B, H]. params holds, for every layer and then
// direction, w_ih, w_hh, b_ih, b_hh: the order of PyTorch's nn.RNN/LSTM/GRU _flat_weights.
// On success *output is [B, T, D·H], *h_n [D·L, B, H], and *c_n the LSTM's final cell state (NULL
// for the other modes).
OLM_API int olm_rnn_fused(int mode, olm_tensor input, olm_tensor h0, olm_tensor c0, const olm_tensor* params,
                          int64_t param_count, int64_t num_layers, double dropout, int train, int bidirectional,
                          olm_tensor* output, olm_tensor* h_n, olm_tensor* c_n);

#ifdef __cplusplus
}
#endif
