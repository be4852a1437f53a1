// Exercise 4 — GQA / MQA: which K/V head a query head reads, and what the
// KV cache costs. Read README.md first. Fill in the TODOs; test.cpp checks them.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "memlab_lab.hpp"

// The K/V head that query head `head` reads, for `heads` query heads sharing
// `kv_heads` K/V heads (kv_heads divides heads). MHA: kv_heads = heads;
// GQA: 1 < kv_heads < heads; MQA: kv_heads = 1.
std::size_t kv_head_for(std::size_t head, std::size_t heads, std::size_t kv_heads) {
  // TODO: consecutive query heads form groups of heads / kv_heads; group g reads K/V head g.
  (void)head, (void)heads, (void)kv_heads;
  return 0;
}

struct model_shape {
  std::size_t layers, heads, kv_heads, head_dim;
};

// Bytes of the KV cache of a model: K and V, for every layer, K/V head, position
// of seq and row of batch, bytes_per_value bytes each (2 for fp16).
// A std::uint64_t: caches exceed 4 GiB, and size_t has 32 bits in the browser.
std::uint64_t kv_cache_bytes(const model_shape& m, std::uint64_t seq, std::uint64_t batch,
                             std::uint64_t bytes_per_value) {
  // TODO
  (void)m, (void)seq, (void)batch, (void)bytes_per_value;
  return 0;
}

// Grouped-query attention over one sequence, every head at once (no mask):
//   out[h] = softmax(q[h] k[g]ᵀ · scale) v[g],  g = kv_head_for(h, heads, kv_heads)
//   q and out: [heads · seq, d] (head h is rows h·seq .. h·seq + seq - 1)
//   k and v:   [kv_heads · seq, d]
// Read the shared K/V heads in place: copying K/V once per query head (what
// "repeat_kv" does in many implementations) would cost heads / kv_heads times
// the memory that GQA saves. Extra memory O(seq) is fine (one row of scores).
void gqa_attention(lab::matrix_view<const float> q, lab::matrix_view<const float> k,
                   lab::matrix_view<const float> v, lab::matrix_view<float> out, std::size_t heads,
                   std::size_t kv_heads) {
  // TODO: seq = q.rows() / heads; for each head h and query row i: scores
  // against the seq keys of K/V head g, softmax (subtract the max), weighted
  // sum of the V rows of head g.
  (void)q, (void)k, (void)v, (void)out, (void)heads, (void)kv_heads;
}
