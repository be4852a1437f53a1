// attention/decode.hpp — attention of one new token over a KV cache (a decoding step).
//
//   for every head h, with g = h / (heads / kv_heads):
//     s_j = q[h] · k[g, j] / sqrt(head_dim)     for every stored position j < seq
//     out[h] = Σ_j softmax(s)_j · v[g, j]
//
// The new token's own K and V are already in the cache (appended first), and it
// sees every stored position, so there is no mask. This is the shape of work
// vLLM's paged_attention kernel does for one sequence in a decode batch.
//
// Unlike flash() there are no tiles and no online softmax: one query's scores
// are only seq floats, so they are computed whole (run by run of the cache's
// storage), softmaxed once, and then weigh V. FlashAttention's running max and
// rescaling pay off when a block of query rows times all keys would not fit in
// fast memory; for one row they would only add work.
//
// q [heads, head_dim] and out [heads, head_dim] are plain rows (a token's
// projection, split into heads by position); scores is the caller's scratch of
// at least kv.seq() floats. Reads each stored K and V once per query head: 2 ·
// heads · seq · head_dim · 4 bytes (a KV head's are read again by each query
// head of its group, from cache). Allocates nothing, so a decoding loop can
// call it every step; kernels only, no checks beyond what its caller ensured
// (model/gpt.hpp's decoder sizes everything from the model's config).
#pragma once

#include <cstddef>

#include "attention/attention.hpp"

namespace memlab::attention {

void decode(const float* q, std::size_t heads, const kv_source& kv, float* scores, float* out);

}  // namespace memlab::attention
