// Exercise 10 — FlashAttention backward: one tile, recomputed from the logsumexp.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
#include <algorithm>
#include <cmath>
#include <vector>

#include "memlab_lab.hpp"

// delta[i] = dout[i] · out[i] for every query row i (the README's D).
//   out, dout [seq_q, d]; delta [seq_q]
void row_delta(lab::matrix_view<const float> out, lab::matrix_view<const float> dout,
               lab::span<float> delta) {
  // TODO: one dot product of d values per row.
  (void)out, (void)dout, (void)delta;
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

  // TODO 1: p(r, c) = exp(scale · q[i0 + r] · k[j0 + c] − lse[i0 + r]) for r < rows,
  //         c < cols; 0 where causal hides key j0 + c from query i0 + r.
  // TODO 2: dv[j0 + c] += Σ_r p(r, c) · dout[i0 + r].
  // TODO 3: ds(r, c) = p(r, c) · (dout[i0 + r] · v[j0 + c] − delta[i0 + r]).
  // TODO 4: dq[i0 + r] += scale · Σ_c ds(r, c) · k[j0 + c], and
  //         dk[j0 + c] += scale · Σ_r ds(r, c) · q[i0 + r].
  (void)d, (void)scale, (void)in, (void)t, (void)causal, (void)p, (void)ds, (void)dq, (void)dk,
      (void)dv;
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
