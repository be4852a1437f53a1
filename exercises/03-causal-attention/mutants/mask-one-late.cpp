// mutant: the mask starts one key late (j > i + 1): every query sees the next token
// expect: after changing keys and values 21..39, rows 0..20 must not change
// expect: out[20][7] = 999999.06

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "memlab_lab.hpp"

// Counts the calls of tile_scores: the tests read it to see which tiles you computed.
inline std::size_t tiles_computed = 0;

// The scores of one (Q tile, K/V tile) pair. Given: do not change; compute every
// tile's scores with it (it counts them for the tests).
//   s[r · block + c] = scale · q_tile[r] · k_tile[c]   for r < q_tile.rows(), c < k_tile.rows()
// with q_tile = q.rows_view(i0, rows) and k_tile = k.rows_view(j0, cols).
void tile_scores(lab::matrix_view<const float> q_tile, lab::matrix_view<const float> k_tile,
                 float scale, float* s, std::size_t block) {
  ++tiles_computed;
  for (std::size_t r = 0; r < q_tile.rows(); ++r)
    for (std::size_t c = 0; c < k_tile.rows(); ++c) {
      float dot = 0;
      for (std::size_t x = 0; x < q_tile.cols(); ++x) dot += q_tile(r, x) * k_tile(c, x);
      s[r * block + c] = scale * dot;
    }
}

std::size_t causal_flash_attention(lab::matrix_view<const float> q, lab::matrix_view<const float> k,
                                   lab::matrix_view<const float> v, lab::matrix_view<float> out,
                                   std::size_t block) {
  const std::size_t seq = q.rows(), d = q.cols();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> s(block * block), m(block), l(block), acc(block * d);
  std::size_t visited = 0;

  for (std::size_t i0 = 0; i0 < seq; i0 += block) {
    const std::size_t rows = std::min(block, seq - i0);
    std::fill(m.begin(), m.end(), -inf);
    std::fill(l.begin(), l.end(), 0.0f);
    std::fill(acc.begin(), acc.end(), 0.0f);

    // K/V tiles starting after the tile's last query are entirely masked
    for (std::size_t j0 = 0; j0 <= i0 + rows - 1; j0 += block) {
      const std::size_t cols = std::min(block, seq - j0);
      ++visited;
      tile_scores(q.rows_view(i0, rows), k.rows_view(j0, cols), scale, s.data(), block);
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c)
          if (j0 + c > i0 + r + 1) s[r * block + c] = -inf;  // a future key
      for (std::size_t r = 0; r < rows; ++r) {
        float m_new = m[r];
        for (std::size_t c = 0; c < cols; ++c) m_new = std::max(m_new, s[r * block + c]);
        if (m_new == -inf) continue;  // every key of this tile is in row r's future
        const float rescale = std::exp(m[r] - m_new);
        l[r] *= rescale;
        for (std::size_t x = 0; x < d; ++x) acc[r * d + x] *= rescale;
        for (std::size_t c = 0; c < cols; ++c) {
          const float p = std::exp(s[r * block + c] - m_new);
          l[r] += p;
          for (std::size_t x = 0; x < d; ++x) acc[r * d + x] += p * v(j0 + c, x);
        }
        m[r] = m_new;
      }
    }
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t x = 0; x < d; ++x) out(i0 + r, x) = acc[r * d + x] / l[r];
  }
  return visited;
}
