// Exercise 6 — a paged KV cache (vLLM's PagedAttention memory manager): a pool
// of fixed-size blocks, a block table per sequence, blocks allocated on demand,
// freed, and shared between forked sequences with copy-on-write.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
#include <algorithm>
#include <vector>

#include "memlab_lab.hpp"

class paged_kv_cache {
 public:
  // A pool of num_blocks blocks. A block holds block_size positions; a position
  // holds `width` floats of K and `width` floats of V. The pool is allocated
  // here, once: 2 · num_blocks · block_size · width floats.
  paged_kv_cache(std::size_t num_blocks, std::size_t block_size, std::size_t width) {
    // TODO: allocate the pool, put every block on the free list, reference counts 0.
    (void)num_blocks, (void)block_size, (void)width;
  }

  // Starts an empty sequence (no blocks yet) and returns its id: 0, 1, 2, ...
  int add_sequence() {
    return -1;  // TODO
  }

  // Appends one position (k and v: width floats each) to sequence seq. A new
  // block is taken from the free list only when the last block is full (or
  // there is none). If the last block is shared with a fork (reference count >
  // 1) and not full, copy it first into a block of its own (copy-on-write), so
  // the other sequence never sees this append. Returns false, changing
  // nothing, when a block is needed and none is free.
  bool append(int seq, lab::span<const float> k, lab::span<const float> v) {
    (void)seq, (void)k, (void)v;
    return false;  // TODO
  }

  // Positions stored in sequence seq.
  std::size_t length(int seq) const {
    (void)seq;
    return 0;  // TODO
  }

  // K (V) of position pos < length(seq): width floats, found through the block
  // table: block block_table(seq)[pos / block_size], slot pos % block_size. O(1).
  lab::span<const float> key(int seq, std::size_t pos) const {
    (void)seq, (void)pos;
    return {};  // TODO
  }
  lab::span<const float> value(int seq, std::size_t pos) const {
    (void)seq, (void)pos;
    return {};  // TODO
  }

  // The physical blocks of sequence seq, in order.
  const std::vector<int>& block_table(int seq) const {
    (void)seq;
    static const std::vector<int> none;
    return none;  // TODO
  }

  // A new sequence with the same contents as seq, sharing all of seq's blocks
  // (each block's reference count goes up by one; nothing is copied). Returns its id.
  int fork(int seq) {
    (void)seq;
    return -1;  // TODO
  }

  // Ends sequence seq: its blocks' reference counts go down by one; a block
  // nobody references any more goes back to the free list.
  void free_sequence(int seq) {
    (void)seq;  // TODO
  }

  std::size_t free_blocks() const { return 0; }  // TODO: blocks on the free list
  int ref_count(int block) const {
    (void)block;
    return 0;  // TODO: sequences whose block table holds this block
  }

 private:
  // TODO: your members: the pool, the free list, reference counts, and per
  // sequence its block table and length.
};
