// mutant: K and V are copied to every query head first (repeat_kv): right, and heads / kv_heads
// times the memory GQA saves
// expect: That is a K/V head's worth: read k and v where they are (no repeat_kv copy)

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "memlab_lab.hpp"

std::size_t kv_head_for(std::size_t head, std::size_t heads, std::size_t kv_heads) {
  return head / (heads / kv_heads);
}

struct model_shape {
  std::size_t layers, heads, kv_heads, head_dim;
};

std::uint64_t kv_cache_bytes(const model_shape& m, std::uint64_t seq, std::uint64_t batch,
                             std::uint64_t bytes_per_value) {
  return 2 * std::uint64_t{m.layers} * m.kv_heads * m.head_dim * seq * batch * bytes_per_value;
}

void gqa_attention(lab::matrix_view<const float> q, lab::matrix_view<const float> k,
                   lab::matrix_view<const float> v, lab::matrix_view<float> out, std::size_t heads,
                   std::size_t kv_heads) {
  const std::size_t seq = q.rows() / heads, d = q.cols();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> p(seq);
  for (std::size_t h = 0; h < heads; ++h) {
    const std::size_t g = kv_head_for(h, heads, kv_heads);
    lab::matrix kh(seq, d), vh(seq, d);  // this head's copy of its group's K and V
    for (std::size_t j = 0; j < seq; ++j)
      for (std::size_t x = 0; x < d; ++x) {
        kh(j, x) = k(g * seq + j, x);
        vh(j, x) = v(g * seq + j, x);
      }
    for (std::size_t i = 0; i < seq; ++i) {
      const lab::span<const float> qi = q.row(h * seq + i);
      float max = -std::numeric_limits<float>::infinity();
      for (std::size_t j = 0; j < seq; ++j) {
        float dot = 0;
        for (std::size_t x = 0; x < d; ++x) dot += qi[x] * kh(j, x);
        p[j] = scale * dot;
        max = std::max(max, p[j]);
      }
      float sum = 0;
      for (std::size_t j = 0; j < seq; ++j) sum += (p[j] = std::exp(p[j] - max));
      const lab::span<float> o = out.row(h * seq + i);
      for (std::size_t x = 0; x < d; ++x) o[x] = 0;
      for (std::size_t j = 0; j < seq; ++j)
        for (std::size_t x = 0; x < d; ++x) o[x] += p[j] / sum * vh(j, x);
    }
  }
}
