#include "attention/decode.hpp"

#include <algorithm>
#include <cmath>

#include "base/kernels.hpp"

namespace memlab::attention {
namespace {

#if defined(__x86_64__) && defined(__AVX512F__)
using kernels::lanes;
using kernels::vfloat;

// The first `count` (1 .. lanes) floats at p as a vector, the rest zero; and
// back. One masked load or store: lanes past count are never touched.
vfloat load_first(const float* p, std::size_t count) {
  return _mm512_maskz_loadu_ps(static_cast<__mmask16>((1u << count) - 1), p);
}

void store_first(float* p, const vfloat& v, std::size_t count) {
  _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << count) - 1), v);
}

// s[j] = scale · Σ_c q[c] · kt[c · stride + j] for j < m, (C - 1) · lanes < m
// <= C · lanes: the scores of up to C vectors of keys kept transposed (row c
// holds dimension c of every key), in one pass down the d rows with all m sums
// in registers, the last vector masked. kernels::matmul_accumulate takes a pass
// per power-of-two part of m (three for 60 keys): one pass halved the scores'
// time (16 heads of 60 keys, rows 512 floats apart: 3.6 -> 1.8 us).
template <std::size_t C>
void transposed_scores(const float* q, std::size_t d, const float* kt, std::size_t stride,
                       std::size_t m, float scale, float* s) {
  const std::size_t last = m - (C - 1) * lanes;  // 1 .. lanes keys in the last vector
  vfloat acc[C] = {};
  for (std::size_t c = 0; c < d; ++c) {
    const float* row = kt + c * stride;
    for (std::size_t x = 0; x + 1 < C; ++x) acc[x] += q[c] * kernels::load(row + x * lanes);
    acc[C - 1] += q[c] * load_first(row + (C - 1) * lanes, last);
  }
  for (std::size_t x = 0; x + 1 < C; ++x) kernels::store(s + x * lanes, scale * acc[x]);
  store_first(s + (C - 1) * lanes, scale * acc[C - 1], last);
}

// The same for any n, four vectors of keys per pass.
void transposed_scores(const float* q, std::size_t d, const float* kt, std::size_t stride,
                       std::size_t n, float scale, float* s) {
  for (std::size_t j = 0; j < n; j += 4 * lanes) {
    const std::size_t m = std::min(n - j, 4 * lanes);
    switch ((m + lanes - 1) / lanes) {
      case 1:
        transposed_scores<1>(q, d, kt + j, stride, m, scale, s + j);
        break;
      case 2:
        transposed_scores<2>(q, d, kt + j, stride, m, scale, s + j);
        break;
      case 3:
        transposed_scores<3>(q, d, kt + j, stride, m, scale, s + j);
        break;
      default:
        transposed_scores<4>(q, d, kt + j, stride, m, scale, s + j);
        break;
    }
  }
}
#else
// Without masked loads (wasm, AVX2) a last partial vector would go through a
// copy (in wasm a memcpy call per row: 5% slower than this); the tile product
// handles the ends of rows with shorter vectors instead.
void transposed_scores(const float* q, std::size_t d, const float* kt, std::size_t stride,
                       std::size_t n, float scale, float* s) {
  kernels::tile_scores(q, 1, d, kt, stride, n, scale, s, n);
}
#endif

}  // namespace

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
        transposed_scores(qh, d, kt, kv.k_transposed_stride(), n, scale, scores + p);
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
