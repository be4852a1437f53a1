// mutant: lsh_attention lets the first chunk look back at the last chunk, wrapping around as trax does
// expect: it matches the first chunk also seeing the last one

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "memlab_lab.hpp"

std::uint32_t hash_bucket(lab::span<const float> x, lab::matrix_view<const float> rotation) {
  const std::size_t half = rotation.cols();
  std::uint32_t best = 0;
  float best_value = -std::numeric_limits<float>::infinity();
  for (std::size_t b = 0; b < 2 * half; ++b) {
    float p = 0;
    for (std::size_t c = 0; c < x.size(); ++c) p += x[c] * rotation(c, b % half);
    if (b >= half) p = -p;
    if (p > best_value) best_value = p, best = static_cast<std::uint32_t>(b);
  }
  return best;
}

std::vector<std::uint32_t> sort_by_bucket(const std::vector<std::uint32_t>& buckets) {
  // Counting sort: stable, O(seq + n_buckets).
  std::uint32_t n_buckets = 0;
  for (const std::uint32_t b : buckets) n_buckets = std::max(n_buckets, b + 1);
  std::vector<std::uint32_t> start(n_buckets + 1, 0);
  for (const std::uint32_t b : buckets) ++start[b + 1];
  for (std::uint32_t b = 0; b < n_buckets; ++b) start[b + 1] += start[b];
  std::vector<std::uint32_t> order(buckets.size());
  for (std::size_t p = 0; p < buckets.size(); ++p)
    order[start[buckets[p]]++] = static_cast<std::uint32_t>(p);
  return order;
}

void lsh_attention(lab::matrix_view<const float> qk, lab::matrix_view<const float> v,
                   lab::matrix_view<const float> rotation, std::size_t chunk, bool causal,
                   lab::matrix_view<float> out) {
  const std::size_t seq = qk.rows(), d = qk.cols();
  // Keys: the queries as unit vectors.
  lab::matrix k(seq, d);
  for (std::size_t j = 0; j < seq; ++j) {
    float norm2 = 0;
    for (std::size_t c = 0; c < d; ++c) norm2 += qk(j, c) * qk(j, c);
    for (std::size_t c = 0; c < d; ++c) k(j, c) = qk(j, c) / std::sqrt(norm2);
  }
  std::vector<std::uint32_t> buckets(seq);
  for (std::size_t p = 0; p < seq; ++p) buckets[p] = hash_bucket(qk.row(p), rotation);
  const std::vector<std::uint32_t> order = sort_by_bucket(buckets);

  std::vector<float> s(seq);
  const std::size_t last = (seq - 1) / chunk * chunk;  // start of the last chunk
  for (std::size_t q0 = 0; q0 < seq; q0 += chunk) {
    const std::size_t q_end = std::min(seq, q0 + chunk);
    // The chunk before; the first chunk wraps around to the last one.
    std::vector<std::size_t> seen;
    if (q0 >= chunk)
      for (std::size_t b = q0 - chunk; b < q0; ++b) seen.push_back(b);
    else if (last > 0)
      for (std::size_t b = last; b < seq; ++b) seen.push_back(b);
    for (std::size_t b = q0; b < q_end; ++b) seen.push_back(b);
    for (std::size_t a = q0; a < q_end; ++a) {
      const std::uint32_t i = order[a];
      float max = -std::numeric_limits<float>::infinity();
      for (std::size_t n = 0; n < seen.size(); ++n) {
        const std::uint32_t j = order[seen[n]];
        if (j == i || (causal && j > i)) continue;
        float dot = 0;
        for (std::size_t c = 0; c < d; ++c) dot += qk(i, c) * k(j, c);
        s[n] = dot;
        max = std::max(max, dot);
      }
      if (max == -std::numeric_limits<float>::infinity()) {
        for (std::size_t c = 0; c < d; ++c) out(i, c) = v(i, c);
        continue;
      }
      float sum = 0;
      for (std::size_t c = 0; c < d; ++c) out(i, c) = 0;
      for (std::size_t n = 0; n < seen.size(); ++n) {
        const std::uint32_t j = order[seen[n]];
        if (j == i || (causal && j > i)) continue;
        const float p = std::exp(s[n] - max);
        sum += p;
        for (std::size_t c = 0; c < d; ++c) out(i, c) += p * v(j, c);
      }
      for (std::size_t c = 0; c < d; ++c) out(i, c) /= sum;
    }
  }
}
