// Exercise 5 — a KV cache: O(1) append, O(1) retrieval, attention over it.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "memlab_lab.hpp"

// The keys and values of up to max_seq positions, for kv_heads heads of
// head_dim floats each. Everything is allocated once, in the constructor:
// exactly 2 · max_seq · kv_heads · head_dim floats (K and V), nothing else on
// the heap. Lay K out as [kv_heads][max_seq][head_dim] (and V the same), so a
// head's keys are contiguous, in the order attention reads them.
class kv_cache {
 public:
  kv_cache(std::size_t max_seq, std::size_t kv_heads, std::size_t head_dim) {
    // TODO: keep the sizes; allocate K and V.
    (void)max_seq, (void)kv_heads, (void)head_dim;
  }

  // Appends one position. k and v hold kv_heads · head_dim floats, head after
  // head. Returns false, changing nothing, when the cache is full. O(kv_heads ·
  // head_dim), no allocation.
  bool append(lab::span<const float> k, lab::span<const float> v) {
    // TODO
    (void)k, (void)v;
    return false;
  }

  std::size_t size() const { return 0; }      // TODO: positions stored
  std::size_t capacity() const { return 0; }  // TODO: max_seq

  // The head_dim floats of K (of V) of K/V head `head` at position pos < size(). O(1).
  lab::span<const float> key(std::size_t head, std::size_t pos) const {
    (void)head, (void)pos;
    return {};  // TODO
  }
  lab::span<const float> value(std::size_t head, std::size_t pos) const {
    (void)head, (void)pos;
    return {};  // TODO
  }

 private:
  // TODO: your members
};

// One decoding step of one query head: the attention of query q (head_dim
// floats) over positions 0 .. cache.size() - 1 of K/V head kv_head, into out
// (head_dim floats):  out = Σ_j softmax_j(q · k_j · scale) v_j,  scale = 1/sqrt(head_dim).
// Time O(size · head_dim); extra memory O(size).
void attend(const kv_cache& cache, std::size_t kv_head, lab::span<const float> q,
            lab::span<float> out) {
  // TODO: scores, softmax (subtract the max), weighted sum of the values.
  (void)cache, (void)kv_head, (void)q, (void)out;
}
