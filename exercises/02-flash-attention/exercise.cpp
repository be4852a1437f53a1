// Exercise 2 — FlashAttention forward: tiles and the online softmax.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "memlab_lab.hpp"

// out = softmax(q kᵀ · scale) v, scale = 1 / sqrt(d), one query row at a time.
//   q [seq_q, d], k and v [seq_kv, d], out [seq_q, d] (row-major views)
//   block: rows of a Q tile and of a K/V tile (the last tiles may be shorter)
// Time O(seq_q · seq_kv · d). Extra memory O(block · block + block · d): never
// the seq_q × seq_kv scores.
void flash_attention(lab::matrix_view<const float> q, lab::matrix_view<const float> k,
                     lab::matrix_view<const float> v, lab::matrix_view<float> out,
                     std::size_t block) {
  const std::size_t seq_q = q.rows(), seq_kv = k.rows(), d = q.cols();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));

  // Scratch for one Q tile, allocated once: the scores of one Q tile against one
  // K/V tile, and per query row the running max m, running sum l and the
  // unnormalised output acc.
  std::vector<float> s(block * block), m(block), l(block), acc(block * d);

  for (std::size_t i0 = 0; i0 < seq_q; i0 += block) {
    const std::size_t rows = std::min(block, seq_q - i0);
    // TODO: start the tile: m = -inf, l = 0, acc = 0 for its rows.

    for (std::size_t j0 = 0; j0 < seq_kv; j0 += block) {
      const std::size_t cols = std::min(block, seq_kv - j0);
      // TODO: s(r, c) = scale · q[i0 + r] · k[j0 + c] for r < rows, c < cols.
      // TODO: for each row r: the tile's max of s(r, ·) gives the new running
      // max m_new = max(m[r], tile max); rescale l[r] and acc[r] by
      // exp(m[r] - m_new) (the online softmax); then with p = exp(s(r, c) - m_new)
      // add Σ_c p to l[r] and Σ_c p · v[j0 + c] to acc[r]; m[r] = m_new.
      (void)cols;
    }
    // TODO: out[i0 + r] = acc[r] / l[r].
    (void)rows;
  }
  (void)scale, (void)d, (void)k, (void)v, (void)out, (void)q;
}
