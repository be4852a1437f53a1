#include "attention/decode.hpp"

#include <algorithm>
#include <cmath>

#include "base/kernels.hpp"

namespace memlab::attention {

void decode(const float* q, std::size_t heads, const kv_source& kv, float* scores, float* out) {
  const std::size_t d = kv.head_dim(), seq = kv.seq(), group = heads / kv.kv_heads();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (std::size_t h = 0; h < heads; ++h) {
    const std::size_t g = h / group;
    const float* qh = q + h * d;
    float* const o = out + h * d;
    // s = q · Kᵀ, scaled, one run of stored positions at a time.
    std::size_t n = 0;
    for (std::size_t p = 0; p < seq; p += n) {
      n = std::min(seq - p, kv.contiguous(p));
      if (const float* kt = kv.k_transposed(g, p)) {
        // K kept [head_dim, positions]: a row of q times a matrix, along positions.
        std::fill_n(scores + p, n, 0.0f);
        kernels::matmul_accumulate(qh, d, 1, d, kt, kv.k_transposed_stride(), scores + p, n, n);
        for (std::size_t j = 0; j < n; ++j) scores[p + j] *= scale;
      } else {
        kernels::scaled_dots(qh, kv.k(g, p), n, d, scale, scores + p);
      }
    }
    // p = softmax(s), in place: no exponent is positive once the max is subtracted.
    const float max = kernels::max_of(scores, seq);
    const float inv_sum = 1.0f / kernels::exp_shifted_sum(scores, max, seq);
    for (std::size_t j = 0; j < seq; ++j) scores[j] *= inv_sum;
    // out = p V, run by run.
    std::fill_n(o, d, 0.0f);
    for (std::size_t p = 0; p < seq; p += n) {
      n = std::min(seq - p, kv.contiguous(p));
      kernels::matmul_accumulate(scores + p, n, 1, n, kv.v(g, p), d, o, d, d);
    }
  }
}

}  // namespace memlab::attention
