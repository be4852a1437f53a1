// reference.hpp — an independent attention reference for the tests: plain loops
// in double precision, straight from the definition, sharing no code with core.
#pragma once

#include <cmath>
#include <cstddef>
#include <vector>

#include "base/memory.hpp"

namespace memlab::testing {

// out[h, i, :] = sum_j softmax_j(q_i · k_j / sqrt(d)) v_j, g = h / (heads / kv_heads),
// with query i seeing keys j <= i + seq_kv - seq_q when causal.
inline std::vector<double> reference_attention(const tensor<3>& q, const tensor<3>& k,
                                               const tensor<3>& v, bool causal) {
  const std::size_t heads = q.shape(0), seq_q = q.shape(1), d = q.shape(2);
  const std::size_t kv_heads = k.shape(0), seq_kv = k.shape(1);
  std::vector<double> out(heads * seq_q * d, 0.0);
  for (std::size_t h = 0; h < heads; ++h) {
    const std::size_t g = h / (heads / kv_heads);
    for (std::size_t i = 0; i < seq_q; ++i) {
      const std::size_t seen = causal ? i + (seq_kv - seq_q) + 1 : seq_kv;
      std::vector<double> s(seen);
      double max = -INFINITY;
      for (std::size_t j = 0; j < seen; ++j) {
        double dot = 0;
        for (std::size_t c = 0; c < d; ++c) dot += double(q(h, i, c)) * double(k(g, j, c));
        s[j] = dot / std::sqrt(double(d));
        max = std::max(max, s[j]);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - max));
      for (std::size_t j = 0; j < seen; ++j)
        for (std::size_t c = 0; c < d; ++c) out[(h * seq_q + i) * d + c] += s[j] / sum * v(g, j, c);
    }
  }
  return out;
}

inline double max_abs_diff(const tensor<3>& a, const std::vector<double>& b) {
  double diff = 0;
  for (std::size_t i = 0; i < b.size(); ++i)
    diff = std::max(diff, std::abs(double(a.data()[i]) - b[i]));
  return diff;
}

inline double max_abs_diff(const tensor<3>& a, const tensor<3>& b) {
  double diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff = std::max(diff, std::abs(double(a.data()[i]) - double(b.data()[i])));
  return diff;
}

}  // namespace memlab::testing
