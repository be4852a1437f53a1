// mutant: the scores are scaled by 1 / d instead of 1 / sqrt(d)
// expect: seq_q 64, seq_kv 64, d 16, block 16

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "memlab_lab.hpp"

void flash_attention(lab::matrix_view<const float> q, lab::matrix_view<const float> k,
                     lab::matrix_view<const float> v, lab::matrix_view<float> out,
                     std::size_t block) {
  const std::size_t seq_q = q.rows(), seq_kv = k.rows(), d = q.cols();
  const float scale = 1.0f / static_cast<float>(d);
  std::vector<float> s(block * block), m(block), l(block), acc(block * d);

  for (std::size_t i0 = 0; i0 < seq_q; i0 += block) {
    const std::size_t rows = std::min(block, seq_q - i0);
    std::fill(m.begin(), m.end(), -std::numeric_limits<float>::infinity());
    std::fill(l.begin(), l.end(), 0.0f);
    std::fill(acc.begin(), acc.end(), 0.0f);

    for (std::size_t j0 = 0; j0 < seq_kv; j0 += block) {
      const std::size_t cols = std::min(block, seq_kv - j0);
      for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) {
          float dot = 0;
          for (std::size_t x = 0; x < d; ++x) dot += q(i0 + r, x) * k(j0 + c, x);
          s[r * block + c] = scale * dot;
        }
      for (std::size_t r = 0; r < rows; ++r) {
        float m_new = m[r];
        for (std::size_t c = 0; c < cols; ++c) m_new = std::max(m_new, s[r * block + c]);
        const float rescale = std::exp(m[r] - m_new);  // exp(-inf) = 0 on the first tile
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
}
