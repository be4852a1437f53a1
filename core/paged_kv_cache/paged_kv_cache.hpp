// paged_kv_cache/paged_kv_cache.hpp — a KV cache in fixed-size blocks, as in vLLM's PagedAttention.
//
// A contiguous cache reserves max_seq positions per sequence up front; most of
// it stays empty (a request rarely reaches max_seq), and the reservation cannot
// be shared. The paged cache treats KV memory like virtual memory:
//
//   block_pool      a fixed number of physical blocks, each holding block_size
//                   tokens of K and V for every layer and KV head; a free list
//                   and a reference count per block.
//   paged_kv_cache  one sequence: a block table (logical block i -> physical
//                   block), filled on demand when the sequence crosses a block
//                   boundary, released when the sequence ends.
//
// Sharing is by reference count. fork() gives a second sequence the same table
// (beam search, parallel sampling); the first write into a shared block copies
// it (copy-on-write), so the branches never see each other's tokens. A prefix
// index maps the hash of a full block's token prefix to its block, so a new
// sequence with the same prompt prefix reuses those blocks instead of
// computing them again.
//
// Attention reads K and V through the block table (attention::kv_source): each
// block is one run of positions, K transposed [head_dim, block_size] and V
// [block_size, head_dim], so flash attention's tiles end at block boundaries.
//
// Memory: blocks · block_size · 2 · layers · kv_heads · head_dim · 4 bytes, all
// allocated by the pool at construction (tracked). Waste is at most
// block_size - 1 slots per sequence (the last block's unused tail).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <unordered_map>
#include <vector>

#include "base/memory.hpp"
#include "kv_cache/kv_cache.hpp"

namespace memlab {

// Thrown when a sequence needs a block and none is free; nothing was changed by
// the call that threw. A guard against misuse: a scheduler asks can_append()
// first and preempts on that answer (serving.cpp does), as vLLM's asks
// get_num_free_blocks() before allocating.
class out_of_blocks : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class block_pool {
 public:
  block_pool(std::size_t layers, std::size_t kv_heads, std::size_t head_dim, std::size_t block_size,
             std::size_t blocks);

  std::size_t layers() const { return layers_; }
  std::size_t kv_heads() const { return kv_heads_; }
  std::size_t head_dim() const { return head_dim_; }
  std::size_t block_size() const { return block_size_; }
  std::size_t blocks() const { return refcount_.size(); }
  std::size_t free_blocks() const { return free_.size(); }
  std::size_t used_blocks() const { return blocks() - free_blocks(); }
  std::size_t bytes() const;  // of all blocks' K and V
  std::size_t bytes_per_block() const;

  // A free block with reference count 1; throws out_of_blocks when none is left.
  std::size_t allocate();
  void retain(std::size_t block);   // one more holder
  void release(std::size_t block);  // one fewer; back to the free list at 0
  std::size_t refcount(std::size_t block) const;
  // A new block with the contents of `block` (all layers and heads).
  std::size_t copy(std::size_t block);

  // K of (block, layer, kv head), transposed: [head_dim, block_size].
  float* k(std::size_t block, std::size_t layer, std::size_t kv_head);
  const float* k(std::size_t block, std::size_t layer, std::size_t kv_head) const;
  // V of (block, layer, kv head): [block_size, head_dim].
  float* v(std::size_t block, std::size_t layer, std::size_t kv_head);
  const float* v(std::size_t block, std::size_t layer, std::size_t kv_head) const;

  // Full blocks indexed by the hash of their token prefix (prefix sharing).
  // find returns the block or -1; a freed block leaves the index.
  void publish(std::uint64_t prefix_hash, std::size_t block);
  std::int64_t find(std::uint64_t prefix_hash) const;

  // Throws std::logic_error naming the first broken invariant of the pool alone:
  // every block is free xor referenced, the free list has no duplicates, the
  // prefix index names only live blocks. (check_invariants adds the tables.)
  void check() const;

 private:
  void check_block(std::size_t block) const;
  std::size_t floats_per_head() const { return block_size_ * head_dim_; }
  std::size_t offset(std::size_t block, std::size_t layer, std::size_t kv_head, bool value) const;

  std::size_t layers_, kv_heads_, head_dim_, block_size_;
  buffer<float> storage_;
  std::vector<std::size_t> refcount_;
  std::vector<std::size_t> free_;  // a stack: the most recently freed block is reused first
  std::unordered_map<std::uint64_t, std::size_t> prefix_;
  std::unordered_map<std::size_t, std::uint64_t> prefix_of_;
};

// One sequence's KV cache over a shared pool.
class paged_kv_cache final : public kv_cache {
 public:
  explicit paged_kv_cache(block_pool& pool);
  ~paged_kv_cache() override;  // releases every block
  paged_kv_cache(const paged_kv_cache&) = delete;
  paged_kv_cache& operator=(const paged_kv_cache&) = delete;

  std::size_t layers() const override { return pool_->layers(); }
  std::size_t kv_heads() const override { return pool_->kv_heads(); }
  std::size_t head_dim() const override { return pool_->head_dim(); }
  // No fixed limit: a sequence grows while the pool has blocks.
  std::size_t capacity() const override;
  std::size_t length() const override { return lengths_.back(); }
  // Allocates blocks as positions cross block boundaries and copies shared
  // blocks before writing into them. Throws out_of_blocks, changing nothing,
  // when the pool cannot supply them (can_append tells beforehand).
  void append(std::size_t layer, const tensor<3>& k, const tensor<3>& v) override;
  // Blocks an append of `tokens` more positions takes from the pool: new ones
  // past the table's end, and private copies of shared blocks it writes into
  // (0 for 0 tokens). O(tokens / block_size).
  std::size_t blocks_needed(std::size_t tokens) const;
  // Whether the pool has them now, i.e. append of `tokens` positions would not
  // throw out_of_blocks.
  bool can_append(std::size_t tokens) const {
    return blocks_needed(tokens) <= pool_->free_blocks();
  }
  const attention::kv_source& layer(std::size_t layer) const override;
  void clear() override;  // releases every block

  // A second sequence sharing every block of this one (copy-on-write).
  std::unique_ptr<paged_kv_cache> fork() const;

  // Prefix sharing. Before a prompt is computed: attach the longest run of
  // full blocks the pool has for its prefix; returns how many tokens that
  // covers (they need no computing). After it is computed: publish this
  // sequence's full blocks so later prompts can attach them.
  std::size_t attach_prefix(const std::vector<int>& prompt);
  void publish_prefix(const std::vector<int>& tokens);

  const std::vector<std::size_t>& block_table() const { return table_; }
  std::size_t reserved_slots() const { return table_.size() * pool_->block_size(); }

 private:
  struct layer_view final : attention::kv_source {
    const paged_kv_cache* cache = nullptr;
    std::size_t layer = 0;
    std::size_t kv_heads() const override { return cache->kv_heads(); }
    std::size_t seq() const override { return cache->lengths_[layer]; }
    std::size_t head_dim() const override { return cache->head_dim(); }
    const float* k(std::size_t, std::size_t) const override { return nullptr; }
    const float* k_transposed(std::size_t g, std::size_t p) const override;
    std::size_t k_transposed_stride() const override { return cache->pool_->block_size(); }
    const float* v(std::size_t g, std::size_t p) const override;
    std::size_t contiguous(std::size_t p) const override;
  };

  // Blocks needed to write positions [from, to): new ones and copies of shared ones.
  std::size_t blocks_to_write(std::size_t from, std::size_t to) const;

  block_pool* pool_;
  std::vector<std::size_t> table_;    // logical block -> physical block
  std::vector<std::size_t> lengths_;  // tokens stored, per layer
  std::vector<layer_view> views_;
};

// Hash of tokens[0, n): FNV-1a over the token ids, chained, so a block's hash
// names its whole prefix, not just its own tokens.
std::uint64_t prefix_hash(const std::vector<int>& tokens, std::size_t n);

// Where the token slots of a pool go, exactly. Slots are counted physically: a
// block shared by several sequences counts once.
//   allocated      block_size · blocks in use (pool.used_blocks())
//   used           slots holding a token of a live sequence
//   reservation    empty slots of a sequence's private last block that it will
//                  still fill before it ends (reserved, not yet used)
//   fragmentation  empty slots nobody will fill: the tail of a last block past
//                  the sequence's final length, and the empty tail of a shared
//                  block (a write into it copies it first)
//   idle           slots held by sequences that have finished but not yet
//                  released them (0 here: a paged sequence frees on finishing;
//                  static batching's contiguous caches have them)
// allocated = used + reservation + fragmentation + idle, and waste() is the
// share of allocated slots that hold nothing a live sequence reads.
struct slot_figures {
  std::size_t allocated = 0, used = 0, reservation = 0, fragmentation = 0, idle = 0;
  std::size_t blocks = 0;          // physical blocks in use
  std::size_t shared_blocks = 0;   // blocks held by more than one sequence
  std::size_t logical_blocks = 0;  // table entries over all sequences (>= blocks when shared)
  // (allocated - used) / allocated; 0 when nothing is allocated.
  double waste() const;
};

// The slot figures of a pool and its live sequences; final_lengths[i] is the
// length caches[i] will reach before it ends (>= its length; the scheduler
// knows it, or pass the current length when the future is unknown). caches
// should list every sequence over the pool: blocks held by others count as
// empty fragmentation. O(blocks + table entries).
slot_figures count_slots(const block_pool& pool, const std::vector<const paged_kv_cache*>& caches,
                         const std::vector<std::size_t>& final_lengths);

// Checks the pool and every live cache over it together: no block is both free
// and used, each block's reference count equals the number of table entries
// naming it, no table names a freed block, the prefix index names only live
// blocks. The index holds no reference: a block is freed, and leaves the index,
// when its last sequence ends. Throws std::logic_error naming the first violation.
void check_invariants(const block_pool& pool, const std::vector<const paged_kv_cache*>& caches);

}  // namespace memlab
