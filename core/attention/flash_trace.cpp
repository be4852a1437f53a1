#include "attention/flash_trace.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attention/attention.hpp"
#include "base/difference.hpp"
#include "base/error.hpp"
#include "base/random.hpp"

namespace memlab::attention {

flash_trace_result flash_trace(const tensor<2>& q, const tensor<2>& k, const tensor<2>& v,
                               std::size_t block_q, std::size_t block_kv, bool causal) {
  const shape s{1, 1, q.shape(0), k.shape(0), q.shape(1)};
  check_shape(s, causal);
  require(k.shape(1) == s.head_dim, "k.shape", shape_text(k.shape()), [&] {
    return "head_dim " + std::to_string(s.head_dim) + " as in q.shape = " + shape_text(q.shape());
  });
  require(v.shape() == k.shape(), "v.shape", shape_text(v.shape()),
          [&] { return "the same as k.shape = " + shape_text(k.shape()); });
  require(block_q > 0, "block_q", block_q, "at least 1 query row per tile");
  require(block_kv > 0, "block_kv", block_kv, "at least 1 key per tile");

  const std::size_t n_q = s.seq_q, n_kv = s.seq_kv, d = s.head_dim;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const float minus_inf = -std::numeric_limits<float>::infinity();
  // End-aligned causal mask: query i sits at position i + (seq_kv - seq_q).
  const auto sees = [&](std::size_t i, std::size_t j) { return !causal || j <= i + n_kv - n_q; };

  flash_trace_result result;
  result.out.assign(n_q * d, 0.0f);
  for (std::size_t q0 = 0; q0 < n_q; q0 += block_q) {
    const std::size_t rows = std::min(block_q, n_q - q0);
    // The row states kept across the K/V tiles (fast memory on a GPU).
    std::vector<float> m(rows, minus_inf), l(rows, 0.0f), acc(rows * d, 0.0f);
    // The last K/V tile to visit: all of them, or the one holding the last key
    // the tile's last row sees.
    const std::size_t kv_end = causal ? q0 + rows + n_kv - n_q : n_kv;
    for (std::size_t k0 = 0; k0 < kv_end; k0 += block_kv) {
      flash_step st;
      st.q_tile = q0 / block_q, st.kv_tile = k0 / block_kv;
      st.q_begin = q0, st.rows = rows;
      st.kv_begin = k0, st.cols = std::min(block_kv, n_kv - k0);
      st.last = k0 + block_kv >= kv_end;
      const std::size_t cols = st.cols;

      // -- S = Q_i K_jᵀ · scale, masked keys −∞
      st.scores.assign(rows * cols, minus_inf);
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) {
          if (!sees(q0 + r, k0 + c)) continue;
          float dot = 0.0f;
          for (std::size_t e = 0; e < d; ++e) dot += q(q0 + r, e) * k(k0 + c, e);
          st.scores[r * cols + c] = dot * scale;
        }

      // -- update statistics: m, α, P, l
      st.m_old = m, st.l_old = l;
      st.probs.assign(rows * cols, 0.0f);
      st.rescale.assign(rows, 1.0f);
      for (std::size_t r = 0; r < rows; ++r) {
        const float* srow = &st.scores[r * cols];
        const float m_new = std::max(m[r], *std::max_element(srow, srow + cols));
        // A row that has seen no key yet keeps α = 1 (exp(−∞ − (−∞)) would be NaN);
        // its l and O are still 0, so any α gives the same.
        if (m_new != minus_inf) st.rescale[r] = std::exp(m[r] - m_new);
        float row_sum = 0.0f;
        for (std::size_t c = 0; c < cols; ++c) {
          const float p = srow[c] == minus_inf ? 0.0f : std::exp(srow[c] - m_new);
          st.probs[r * cols + c] = p;
          row_sum += p;
        }
        m[r] = m_new;
        l[r] = st.rescale[r] * l[r] + row_sum;
      }
      st.m_new = m, st.l_new = l;

      // -- O = α · O + P V_j, and O / l as the rows stand now
      st.out.assign(rows * d, 0.0f);
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t e = 0; e < d; ++e) {
          float pv = 0.0f;
          for (std::size_t c = 0; c < cols; ++c) pv += st.probs[r * cols + c] * v(k0 + c, e);
          acc[r * d + e] = st.rescale[r] * acc[r * d + e] + pv;
          st.out[r * d + e] = acc[r * d + e] / l[r];
        }
      st.acc = acc;
      if (st.last) std::copy(st.out.begin(), st.out.end(), result.out.begin() + q0 * d);
      result.steps.push_back(std::move(st));
    }
  }
  return result;
}

}  // namespace memlab::attention

namespace memlab::experiments {

flash_trace_figures run_flash_trace(const flash_trace_config& config) {
  const std::size_t seq = require_positive(config.seq, "seq");
  const std::size_t d = require_positive(config.head_dim, "head_dim");
  require(seq <= 64, "seq", seq, "at most 64 (every state of the step-through is kept)");
  require(d <= 16, "head_dim", d, "at most 16 (every state of the step-through is kept)");
  const std::size_t block_q = require_positive(config.block_q, "block_q");
  const std::size_t block_kv = require_positive(config.block_kv, "block_kv");
  require(block_q <= seq, "block_q", block_q, [&] { return "at most " + named("seq", seq); });
  require(block_kv <= seq, "block_kv", block_kv, [&] { return "at most " + named("seq", seq); });

  rng gen(config.seed);
  const tensor<2> q = random_normal<2>({seq, d}, gen);
  const tensor<2> k = random_normal<2>({seq, d}, gen);
  const tensor<2> v = random_normal<2>({seq, d}, gen);
  auto trace = attention::flash_trace(q, k, v, block_q, block_kv, config.causal);

  // The reference on the same inputs, as one head of [heads, seq, head_dim].
  const auto one_head = [&](const tensor<2>& t) {
    auto h = tensor<3>::from_shape({1, seq, d});
    std::copy(t.begin(), t.end(), h.begin());
    return h;
  };
  tensor<3> probs;
  const tensor<3> naive_out =
      attention::naive(one_head(q), one_head(k), one_head(v), config.causal, &probs);

  flash_trace_figures f;
  f.config = config;
  f.scale = 1.0f / std::sqrt(static_cast<float>(d));
  f.q.assign(q.begin(), q.end());
  f.k.assign(k.begin(), k.end());
  f.v.assign(v.begin(), v.end());
  f.steps = std::move(trace.steps);
  f.out = std::move(trace.out);
  f.naive_probs.assign(probs.begin(), probs.end());
  f.naive_out.assign(naive_out.begin(), naive_out.end());
  const difference diff = difference_of(f.out.data(), f.naive_out.data(), f.out.size());
  f.max_abs_diff = diff.nonfinite ? NAN : diff.max_abs;
  return f;
}

}  // namespace memlab::experiments
