// mutant: kv_cache_bytes accumulates the product in a 32-bit unsigned: 4 GiB and more wrap around
// expect: Mistral-7B (GQA, 8 kv heads), 8192 tokens, batch 4, fp16: got 0 bytes (0 MiB), expected
// 4294967296

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
  std::uint32_t bytes = 2;
  for (std::uint64_t factor : {std::uint64_t{m.layers}, std::uint64_t{m.kv_heads},
                               std::uint64_t{m.head_dim}, seq, batch, bytes_per_value})
    bytes *= static_cast<std::uint32_t>(factor);
  return bytes;
}

void gqa_attention(lab::matrix_view<const float> q, lab::matrix_view<const float> k,
                   lab::matrix_view<const float> v, lab::matrix_view<float> out, std::size_t heads,
                   std::size_t kv_heads) {
  const std::size_t seq = q.rows() / heads, d = q.cols();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> p(seq);
  for (std::size_t h = 0; h < heads; ++h) {
    const std::size_t g = kv_head_for(h, heads, kv_heads);
    const auto kh = k.rows_view(g * seq, seq), vh = v.rows_view(g * seq, seq);
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
