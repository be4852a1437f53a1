// reference.hpp — an independent attention reference for the tests: plain loops
// in double precision, straight from the definition, sharing no code with core.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "base/memory.hpp"

namespace memlab::testing {

// One test case of the attention kernels: sizes, tiles, mask; described for CAPTURE.
struct attention_case {
  std::size_t heads, kv_heads, seq_q, seq_kv, head_dim, block_q, block_kv;
  bool causal;
};

inline std::string describe(const attention_case& c) {
  return "heads " + std::to_string(c.heads) + ", kv_heads " + std::to_string(c.kv_heads) +
         ", seq_q " + std::to_string(c.seq_q) + ", seq_kv " + std::to_string(c.seq_kv) +
         ", head_dim " + std::to_string(c.head_dim) + ", blocks " + std::to_string(c.block_q) +
         "x" + std::to_string(c.block_kv) + (c.causal ? ", causal" : "");
}

// Sizes of an attention call, for the references on flat double arrays:
// q, out [heads, seq_q, d], k, v [kv_heads, seq_kv, d], row-major.
struct attention_dims {
  std::size_t heads, kv_heads, seq_q, seq_kv, d;
};

// out[h, i, :] = sum_j softmax_j(q_i · k_j / sqrt(d)) v_j, g = h / (heads / kv_heads),
// with query i seeing keys j <= i + seq_kv - seq_q when causal.
inline std::vector<double> reference_attention(const std::vector<double>& q,
                                               const std::vector<double>& k,
                                               const std::vector<double>& v,
                                               const attention_dims& n, bool causal) {
  const std::size_t d = n.d;
  std::vector<double> out(n.heads * n.seq_q * d, 0.0);
  for (std::size_t h = 0; h < n.heads; ++h) {
    const std::size_t g = h / (n.heads / n.kv_heads);
    for (std::size_t i = 0; i < n.seq_q; ++i) {
      const std::size_t seen = causal ? i + (n.seq_kv - n.seq_q) + 1 : n.seq_kv;
      const double* qi = &q[(h * n.seq_q + i) * d];
      std::vector<double> s(seen);
      double max = -INFINITY;
      for (std::size_t j = 0; j < seen; ++j) {
        double dot = 0;
        for (std::size_t c = 0; c < d; ++c) dot += qi[c] * k[(g * n.seq_kv + j) * d + c];
        s[j] = dot / std::sqrt(double(d));
        max = std::max(max, s[j]);
      }
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - max));
      for (std::size_t j = 0; j < seen; ++j)
        for (std::size_t c = 0; c < d; ++c)
          out[(h * n.seq_q + i) * d + c] += s[j] / sum * v[(g * n.seq_kv + j) * d + c];
    }
  }
  return out;
}

inline std::vector<double> to_double(const tensor<3>& t) { return {t.begin(), t.end()}; }

// The same from fp32 tensors.
inline std::vector<double> reference_attention(const tensor<3>& q, const tensor<3>& k,
                                               const tensor<3>& v, bool causal) {
  const attention_dims n{q.shape(0), k.shape(0), q.shape(1), k.shape(1), q.shape(2)};
  return reference_attention(to_double(q), to_double(k), to_double(v), n, causal);
}

// d loss / d q, k, v of loss = Σ dout ∘ attention(q, k, v) by central finite
// differences in double precision: (loss(x + e) − loss(x − e)) / 2e per input
// value, which is the gradient up to O(e²) (e = 1e-5: about 1e-10 here).
struct reference_gradients {
  std::vector<double> dq, dk, dv;
};
inline reference_gradients finite_difference_gradients(const tensor<3>& q, const tensor<3>& k,
                                                       const tensor<3>& v, const tensor<3>& dout,
                                                       bool causal) {
  const attention_dims n{q.shape(0), k.shape(0), q.shape(1), k.shape(1), q.shape(2)};
  std::vector<double> x[3] = {to_double(q), to_double(k), to_double(v)};
  const std::vector<double> w = to_double(dout);
  auto loss = [&] {
    const std::vector<double> out = reference_attention(x[0], x[1], x[2], n, causal);
    double sum = 0;
    for (std::size_t i = 0; i < out.size(); ++i) sum += w[i] * out[i];
    return sum;
  };
  const double e = 1e-5;
  std::vector<double> grad[3];
  for (int t = 0; t < 3; ++t)
    for (double& value : x[t]) {
      const double keep = value;
      value = keep + e;
      const double up = loss();
      value = keep - e;
      const double down = loss();
      value = keep;
      grad[t].push_back((up - down) / (2 * e));
    }
  return {grad[0], grad[1], grad[2]};
}

// max |a − b| / max |b|: the error relative to the largest reference value (the
// absolute error when the reference is all zeros).
inline double max_relative_diff(const tensor<3>& a, const std::vector<double>& b) {
  double diff = 0, scale = 0;
  for (std::size_t i = 0; i < b.size(); ++i) {
    diff = std::max(diff, std::abs(double(a.data()[i]) - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  if (a.size() != b.size()) return INFINITY;
  return scale > 0 ? diff / scale : diff;
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
