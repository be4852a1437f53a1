#include "paged_kv_cache/paged_kv_cache.hpp"

#include <algorithm>
#include <limits>
#include <string>

#include "base/error.hpp"

namespace memlab {
namespace {

[[noreturn]] void broken(const std::string& what) {
  throw std::logic_error("paged KV cache invariant broken: " + what);
}

constexpr std::uint64_t fnv_offset = 1469598103934665603ull;  // FNV-1a offset basis
constexpr std::uint64_t fnv_prime = 1099511628211ull;

// Folds tokens[from, to) into the chained hash h: prefix_hash(t, n) continued to
// prefix_hash(t, to) in O(to - from), so hashing every block of a prompt is O(prompt).
std::uint64_t fold(std::uint64_t h, const std::vector<int>& tokens, std::size_t from,
                   std::size_t to) {
  for (std::size_t i = from; i < to && i < tokens.size(); ++i) {
    h ^= static_cast<std::uint32_t>(tokens[i]);
    h *= fnv_prime;
  }
  return h;
}

}  // namespace

// ---- block_pool ------------------------------------------------------------

block_pool::block_pool(std::size_t layers, std::size_t kv_heads, std::size_t head_dim,
                       std::size_t block_size, std::size_t blocks)
    : layers_(layers), kv_heads_(kv_heads), head_dim_(head_dim), block_size_(block_size) {
  require(layers > 0, "layers", layers, "at least 1");
  require(kv_heads > 0, "kv_heads", kv_heads, "at least 1");
  require(head_dim > 0, "head_dim", head_dim, "at least 1");
  require(block_size > 0, "block_size", block_size, "at least 1 token per block");
  require(blocks > 0, "blocks", blocks, "at least 1");
  storage_.resize(blocks * layers * kv_heads * 2 * floats_per_head());
  refcount_.assign(blocks, 0);
  for (std::size_t b = blocks; b-- > 0;) free_.push_back(b);  // block 0 is handed out first
}

std::size_t block_pool::bytes_per_block() const {
  return layers_ * kv_heads_ * 2 * floats_per_head() * sizeof(float);
}

std::size_t block_pool::bytes() const { return blocks() * bytes_per_block(); }

std::size_t block_pool::allocate() {
  if (free_.empty())
    throw out_of_blocks("out of KV cache blocks: all " + std::to_string(blocks()) + " blocks of " +
                        std::to_string(block_size_) + " tokens are in use");
  const std::size_t block = free_.back();
  free_.pop_back();
  refcount_[block] = 1;
  return block;
}

void block_pool::check_block(std::size_t block) const {
  require(block < blocks(), "block", block,
          [&] { return "less than " + named("blocks", blocks()); });
  if (refcount_[block] == 0)
    broken("block " + std::to_string(block) + " is used after being freed");
}

void block_pool::retain(std::size_t block) {
  check_block(block);
  ++refcount_[block];
}

void block_pool::release(std::size_t block) {
  check_block(block);
  if (--refcount_[block] > 0) return;
  free_.push_back(block);
  if (const auto it = prefix_of_.find(block); it != prefix_of_.end()) {
    prefix_.erase(it->second);
    prefix_of_.erase(it);
  }
}

std::size_t block_pool::refcount(std::size_t block) const {
  require(block < blocks(), "block", block,
          [&] { return "less than " + named("blocks", blocks()); });
  return refcount_[block];
}

std::size_t block_pool::copy(std::size_t block) {
  check_block(block);
  const std::size_t to = allocate();
  const std::size_t n = layers_ * kv_heads_ * 2 * floats_per_head();
  std::copy_n(storage_.data() + block * n, n, storage_.data() + to * n);
  return to;
}

std::size_t block_pool::offset(std::size_t block, std::size_t layer, std::size_t kv_head,
                               bool value) const {
  return (((block * layers_ + layer) * kv_heads_ + kv_head) * 2 + (value ? 1 : 0)) *
         floats_per_head();
}

float* block_pool::k(std::size_t block, std::size_t layer, std::size_t g) {
  return storage_.data() + offset(block, layer, g, false);
}
const float* block_pool::k(std::size_t block, std::size_t layer, std::size_t g) const {
  return storage_.data() + offset(block, layer, g, false);
}
float* block_pool::v(std::size_t block, std::size_t layer, std::size_t g) {
  return storage_.data() + offset(block, layer, g, true);
}
const float* block_pool::v(std::size_t block, std::size_t layer, std::size_t g) const {
  return storage_.data() + offset(block, layer, g, true);
}

void block_pool::publish(std::uint64_t prefix_hash, std::size_t block) {
  check_block(block);
  if (prefix_.count(prefix_hash) || prefix_of_.count(block)) return;  // already indexed
  prefix_[prefix_hash] = block;
  prefix_of_[block] = prefix_hash;
}

std::int64_t block_pool::find(std::uint64_t prefix_hash) const {
  const auto it = prefix_.find(prefix_hash);
  return it == prefix_.end() ? -1 : static_cast<std::int64_t>(it->second);
}

void block_pool::check() const {
  std::vector<bool> is_free(blocks(), false);
  for (std::size_t b : free_) {
    if (b >= blocks())
      broken("free list names block " + std::to_string(b) + " of " + std::to_string(blocks()));
    if (is_free[b]) broken("block " + std::to_string(b) + " is twice on the free list");
    is_free[b] = true;
  }
  for (std::size_t b = 0; b < blocks(); ++b)
    if (is_free[b] == (refcount_[b] > 0))
      broken("block " + std::to_string(b) +
             (is_free[b] ? " is free and used (refcount " + std::to_string(refcount_[b]) + ")"
                         : " is neither free nor used"));
  for (const auto& [hash, b] : prefix_) {
    if (refcount_[b] == 0) broken("the prefix index names freed block " + std::to_string(b));
    const auto it = prefix_of_.find(b);
    if (it == prefix_of_.end() || it->second != hash)
      broken("the prefix index and its reverse disagree on block " + std::to_string(b));
  }
  if (prefix_.size() != prefix_of_.size())
    broken("the prefix index and its reverse differ in size");
}

// ---- paged_kv_cache ----------------------------------------------------------

paged_kv_cache::paged_kv_cache(block_pool& pool)
    : pool_(&pool), lengths_(pool.layers(), 0), views_(pool.layers()) {
  for (std::size_t l = 0; l < views_.size(); ++l) views_[l].cache = this, views_[l].layer = l;
}

paged_kv_cache::~paged_kv_cache() { clear(); }

void paged_kv_cache::clear() {
  for (std::size_t block : table_) pool_->release(block);
  table_.clear();
  std::fill(lengths_.begin(), lengths_.end(), 0);
}

std::size_t paged_kv_cache::blocks_needed(std::size_t tokens) const {
  return tokens == 0 ? 0 : blocks_to_write(length(), length() + tokens);
}

std::size_t paged_kv_cache::blocks_to_write(std::size_t from, std::size_t to) const {
  const std::size_t bs = pool_->block_size();
  std::size_t needed = 0;
  for (std::size_t i = from / bs; i * bs < to; ++i)
    if (i >= table_.size() || pool_->refcount(table_[i]) > 1) ++needed;
  return needed;
}

std::size_t paged_kv_cache::capacity() const {
  const std::size_t bs = pool_->block_size(), len = length();
  std::size_t free = pool_->free_blocks();
  std::size_t tail = table_.size() * bs - len;  // unused slots of the last block
  if (tail > 0 && pool_->refcount(table_.back()) > 1) {
    if (free == 0)
      tail = 0;  // writing there would need a private copy
    else
      --free;
  }
  return len + tail + free * bs;
}

void paged_kv_cache::append(std::size_t layer, const tensor<3>& k, const tensor<3>& v) {
  check_append(layer, k, v);
  const std::size_t bs = pool_->block_size(), d = head_dim(), n = k.shape(1);
  const std::size_t from = lengths_[layer], to = from + n;

  // Make every block these positions fall in present and private, all or
  // nothing: count first, so running out leaves the table as it was.
  const std::size_t needed = blocks_to_write(from, to);
  if (needed > pool_->free_blocks())
    throw out_of_blocks("out of KV cache blocks: " + std::to_string(n) + " more tokens need " +
                        std::to_string(needed) + " blocks of " + std::to_string(bs) + ", " +
                        std::to_string(pool_->free_blocks()) + " of " +
                        std::to_string(pool_->blocks()) + " are free");
  for (std::size_t i = from / bs; i * bs < to; ++i) {
    if (i >= table_.size()) {
      table_.push_back(pool_->allocate());  // crossed into a new block
    } else if (pool_->refcount(table_[i]) > 1) {
      const std::size_t shared = table_[i];  // copy on write: the other holders keep it
      table_[i] = pool_->copy(shared);
      pool_->release(shared);
    }
  }
  for (std::size_t t = 0; t < n; ++t) {
    const std::size_t pos = from + t, block = table_[pos / bs], slot = pos % bs;
    for (std::size_t g = 0; g < kv_heads(); ++g) {
      float* kt = pool_->k(block, layer, g);  // [head_dim, block_size]
      const float* k_row = k.data() + (g * n + t) * d;
      for (std::size_t c = 0; c < d; ++c) kt[c * bs + slot] = k_row[c];
      std::copy_n(v.data() + (g * n + t) * d, d, pool_->v(block, layer, g) + slot * d);
    }
  }
  lengths_[layer] = to;
}

const attention::kv_source& paged_kv_cache::layer(std::size_t layer) const {
  check_layer(layer);
  return views_[layer];
}

std::unique_ptr<paged_kv_cache> paged_kv_cache::fork() const {
  auto branch = std::make_unique<paged_kv_cache>(*pool_);
  branch->table_ = table_;
  branch->lengths_ = lengths_;
  for (std::size_t block : table_) pool_->retain(block);
  return branch;
}

std::size_t paged_kv_cache::attach_prefix(const std::vector<int>& prompt) {
  require(table_.empty(), "cache length", length(), "0 (attach a prefix to a new sequence)");
  const std::size_t bs = pool_->block_size();
  // Full blocks only, and at least one prompt token left to compute: its
  // logits give the first new token.
  std::uint64_t hash = fnv_offset;
  while ((table_.size() + 1) * bs < prompt.size()) {
    hash = fold(hash, prompt, table_.size() * bs, (table_.size() + 1) * bs);
    const std::int64_t block = pool_->find(hash);
    if (block < 0) break;
    pool_->retain(static_cast<std::size_t>(block));
    table_.push_back(static_cast<std::size_t>(block));
  }
  std::fill(lengths_.begin(), lengths_.end(), table_.size() * bs);
  return table_.size() * bs;
}

void paged_kv_cache::publish_prefix(const std::vector<int>& tokens) {
  const std::size_t bs = pool_->block_size();
  const std::size_t full = std::min(length(), tokens.size()) / bs;
  std::uint64_t hash = fnv_offset;
  for (std::size_t i = 0; i < full; ++i) {
    hash = fold(hash, tokens, i * bs, (i + 1) * bs);
    pool_->publish(hash, table_[i]);
  }
}

const float* paged_kv_cache::layer_view::k_transposed(std::size_t g, std::size_t p) const {
  const std::size_t bs = cache->pool_->block_size();
  return cache->pool_->k(cache->table_[p / bs], layer, g) + p % bs;
}

const float* paged_kv_cache::layer_view::v(std::size_t g, std::size_t p) const {
  const std::size_t bs = cache->pool_->block_size();
  return cache->pool_->v(cache->table_[p / bs], layer, g) + (p % bs) * cache->head_dim();
}

std::size_t paged_kv_cache::layer_view::contiguous(std::size_t p) const {
  const std::size_t bs = cache->pool_->block_size();
  return std::min(bs - p % bs, seq() - p);
}

// ---- free functions ----------------------------------------------------------

std::uint64_t prefix_hash(const std::vector<int>& tokens, std::size_t n) {
  return fold(fnv_offset, tokens, 0, n);
}

double slot_figures::waste() const {
  return allocated == 0 ? 0.0 : double(allocated - used) / double(allocated);
}

slot_figures count_slots(const block_pool& pool, const std::vector<const paged_kv_cache*>& caches,
                         const std::vector<std::size_t>& final_lengths) {
  require(final_lengths.size() == caches.size(), "final_lengths.size()", final_lengths.size(),
          [&] { return "one per cache, " + named("caches.size()", caches.size()); });
  const std::size_t bs = pool.block_size();
  slot_figures f;
  f.blocks = pool.used_blocks();
  f.allocated = f.blocks * bs;
  // Tokens in each physical block: the most any holder has written there.
  std::vector<std::size_t> filled(pool.blocks(), 0);
  for (std::size_t c = 0; c < caches.size(); ++c) {
    const auto& table = caches[c]->block_table();
    const std::size_t len = caches[c]->length();
    require(final_lengths[c] >= len, "final_lengths[c]", final_lengths[c],
            [&] { return "at least the cache's " + named("length", len); });
    f.logical_blocks += table.size();
    for (std::size_t i = 0; i < table.size(); ++i)
      filled[table[i]] = std::max(filled[table[i]], std::min(bs, len - std::min(len, i * bs)));
  }
  for (std::size_t b = 0; b < pool.blocks(); ++b) {
    f.used += filled[b];
    if (pool.refcount(b) > 1) ++f.shared_blocks;
  }
  for (std::size_t c = 0; c < caches.size(); ++c) {
    const auto& table = caches[c]->block_table();
    if (table.empty() || pool.refcount(table.back()) > 1) continue;
    const std::size_t empty = bs - filled[table.back()];
    f.reservation += std::min(empty, final_lengths[c] - caches[c]->length());
  }
  f.fragmentation = f.allocated - f.used - f.reservation;
  return f;
}

void check_invariants(const block_pool& pool, const std::vector<const paged_kv_cache*>& caches) {
  pool.check();
  std::vector<std::size_t> holders(pool.blocks(), 0);
  for (std::size_t c = 0; c < caches.size(); ++c)
    for (std::size_t block : caches[c]->block_table()) {
      if (block >= pool.blocks())
        broken("cache " + std::to_string(c) + " names block " + std::to_string(block));
      if (pool.refcount(block) == 0)
        broken("cache " + std::to_string(c) + " names freed block " + std::to_string(block));
      ++holders[block];
    }
  for (std::size_t b = 0; b < pool.blocks(); ++b)
    if (holders[b] != pool.refcount(b))
      broken("block " + std::to_string(b) + " has refcount " + std::to_string(pool.refcount(b)) +
             " but " + std::to_string(holders[b]) + " table entries");
}

}  // namespace memlab
