// Exercise 10 — FlashAttention backward: reference solution (used by CI, not shipped to the page).
#include <algorithm>
#include <cmath>
#include <vector>

#include "memlab_lab.hpp"

// delta[i] = dout[i] · out[i] for every query row i (the README's D).
//   out, dout [seq_q, d]; delta [seq_q]
void row_delta(lab::matrix_view<const float> out, lab::matrix_view<const float> dout,
               lab::span<float> delta) {
  for (std::size_t i = 0; i < out.rows(); ++i) {
    float sum = 0.0f;
    for (std::size_t c = 0; c < out.cols(); ++c) sum += dout(i, c) * out(i, c);
    delta[i] = sum;
  }
}

// Query rows [i0, i0 + rows) against keys [j0, j0 + cols).
struct tile {
  std::size_t i0, rows, j0, cols;
};

// What every tile reads: q [seq_q, d], k and v [seq_kv, d], dout [seq_q, d], and per
// query row the forward's logsumexp lse[i] = log Σ_j exp(s_ij) and delta[i].
struct saved {
  lab::matrix_view<const float> q, k, v, dout;
  lab::span<const float> lse, delta;
};

// Adds the tile's share of the gradients to dq [seq_q, d], dk and dv [seq_kv, d]
// (README.md has the formulas). causal: query i sees keys j <= i only. p and ds:
// scratch of at least rows · cols floats, (r, c) at [r * cols + c].
void tile_backward(const saved& in, const tile& t, bool causal, lab::span<float> p,
                   lab::span<float> ds, lab::matrix_view<float> dq, lab::matrix_view<float> dk,
                   lab::matrix_view<float> dv) {
  const std::size_t d = in.q.cols();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));

  // p = exp(S − L): the forward's probabilities, recomputed; 0 above the diagonal
  for (std::size_t r = 0; r < t.rows; ++r)
    for (std::size_t c = 0; c < t.cols; ++c) {
      float s = 0.0f;
      for (std::size_t e = 0; e < d; ++e) s += in.q(t.i0 + r, e) * in.k(t.j0 + c, e);
      const bool hidden = causal && t.j0 + c > t.i0 + r;
      p[r * t.cols + c] = hidden ? 0.0f : std::exp(scale * s - in.lse[t.i0 + r]);
    }
  // dV_j += Pᵀ dO_i
  for (std::size_t r = 0; r < t.rows; ++r)
    for (std::size_t c = 0; c < t.cols; ++c)
      for (std::size_t e = 0; e < d; ++e)
        dv(t.j0 + c, e) += p[r * t.cols + c] * in.dout(t.i0 + r, e);
  // dS = P ∘ (dO_i V_jᵀ − D_i)
  for (std::size_t r = 0; r < t.rows; ++r)
    for (std::size_t c = 0; c < t.cols; ++c) {
      float dp = 0.0f;
      for (std::size_t e = 0; e < d; ++e) dp += in.dout(t.i0 + r, e) * in.v(t.j0 + c, e);
      ds[r * t.cols + c] = p[r * t.cols + c] * (dp - in.delta[t.i0 + r]);
    }
  // dQ_i += scale · dS K_j,  dK_j += scale · dSᵀ Q_i
  for (std::size_t r = 0; r < t.rows; ++r)
    for (std::size_t c = 0; c < t.cols; ++c) {
      const float g = scale * ds[r * t.cols + c];
      for (std::size_t e = 0; e < d; ++e) {
        dq(t.i0 + r, e) += g * in.k(t.j0 + c, e);
        dk(t.j0 + c, e) += g * in.q(t.i0 + r, e);
      }
    }
}

// Given: the whole backward pass of one head from the forward's out and lse, tile
// by tile, K/V tiles outer. dq [seq_q, d], dk, dv [seq_kv, d] are overwritten.
// With causal, seq_q == seq_kv and the tiles above the diagonal are skipped.
void flash_backward(lab::matrix_view<const float> q, lab::matrix_view<const float> k,
                    lab::matrix_view<const float> v, lab::matrix_view<const float> out,
                    lab::span<const float> lse, lab::matrix_view<const float> dout,
                    std::size_t block, bool causal, lab::matrix_view<float> dq,
                    lab::matrix_view<float> dk, lab::matrix_view<float> dv) {
  const std::size_t seq_q = q.rows(), seq_kv = k.rows();
  std::vector<float> delta(seq_q);
  row_delta(out, dout, delta);
  for (auto* g : {&dq, &dk, &dv}) std::fill(g->values().begin(), g->values().end(), 0.0f);

  std::vector<float> p(block * block), ds(block * block);
  const saved in{q, k, v, dout, lse, delta};
  for (std::size_t j0 = 0; j0 < seq_kv; j0 += block) {
    const std::size_t cols = std::min(block, seq_kv - j0);
    for (std::size_t i0 = 0; i0 < seq_q; i0 += block) {
      const std::size_t rows = std::min(block, seq_q - i0);
      if (causal && i0 + rows - 1 < j0) continue;  // above the diagonal: every p is 0
      tile_backward(in, {i0, rows, j0, cols}, causal, p, ds, dq, dk, dv);
    }
  }
}
