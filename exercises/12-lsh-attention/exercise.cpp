// Exercise 12 — LSH attention: hash by random rotations, sort, attend in chunks.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
#include <cmath>
#include <cstdint>
#include <vector>

#include "memlab_lab.hpp"

// The bucket of x (d values) under a rotation R [d, n_buckets / 2]: the index of
// the largest of the n_buckets values [xR, -xR], the first one on ties.
std::uint32_t hash_bucket(lab::span<const float> x, lab::matrix_view<const float> rotation) {
  (void)x, (void)rotation;
  return 0;  // TODO
}

// The positions 0 .. buckets.size() - 1 sorted by (bucket, position): order[k]
// is the position at sorted index k. Stable: within a bucket, sequence order.
std::vector<std::uint32_t> sort_by_bucket(const std::vector<std::uint32_t>& buckets) {
  (void)buckets;
  return {};  // TODO
}

// One round of LSH attention with shared QK. qk, v and out are [seq, d];
// rotation is [d, n_buckets / 2].
//   keys k_j = qk_j / |qk_j|, logits qk_i · k_j (no 1/sqrt(d));
//   hash every position, sort by (bucket, position), cut the sorted order into
//   chunks of `chunk` positions; a query sees the keys of its chunk and of the
//   chunk before (the first chunk has none), j <= i by position when causal,
//   and never itself — unless it sees nothing else: then out_i = v_i.
//   out[i] = Σ_j softmax_j(logits) v_j over what i sees, in sequence order.
void lsh_attention(lab::matrix_view<const float> qk, lab::matrix_view<const float> v,
                   lab::matrix_view<const float> rotation, std::size_t chunk, bool causal,
                   lab::matrix_view<float> out) {
  (void)qk, (void)v, (void)rotation, (void)chunk, (void)causal, (void)out;
  // TODO
}
