// kv_cache/kv_cache.hpp — where a decoder keeps the keys and values of past tokens.
//
// Without a cache, generating token t recomputes K and V of all t previous
// tokens in every layer: O(t) work per token, O(n²) for n tokens. With one,
// each step computes K and V of the new token only, appends them, and attends
// over what is stored: O(1) projections per token (attention itself still reads
// all t keys).
//
// `kv_cache` is the interface the model's attention code sees (it never knows
// which cache it has): append the new tokens' K and V for a layer, then read
// the layer back as an attention::kv_source. `contiguous_kv_cache` preallocates
// max_seq positions per layer and KV head up front, so appending never
// reallocates or copies old entries; the paged cache implements the same
// interface with blocks allocated on demand.
//
// Memory: 2 (K and V) · layers · kv_heads · max_seq · head_dim · 4 bytes, all
// counted by the tracker. GQA/MQA divide it by heads / kv_heads.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "attention/attention.hpp"
#include "base/memory.hpp"

namespace memlab {

class kv_cache {
 public:
  virtual ~kv_cache() = default;

  virtual std::size_t layers() const = 0;
  virtual std::size_t kv_heads() const = 0;
  virtual std::size_t head_dim() const = 0;
  virtual std::size_t capacity() const = 0;  // most tokens it can hold
  // Tokens stored: in every layer once a forward pass has appended to all of
  // them; the model reads it before its first layer.
  virtual std::size_t length() const = 0;

  // Stores K and V of n new tokens for `layer`: k and v are [kv_heads, n, head_dim].
  // Throws memlab::invalid_argument, storing nothing, when they do not fit.
  virtual void append(std::size_t layer, const tensor<3>& k, const tensor<3>& v) = 0;
  // Everything stored for `layer`, for attention to read.
  virtual const attention::kv_source& layer(std::size_t layer) const = 0;
  // Forgets every token (keeps the memory).
  virtual void clear() = 0;

 protected:
  // The checks every cache makes, with the same messages: layer < layers(), and
  // k, v both [kv_heads, n, head_dim]. Throw memlab::invalid_argument.
  void check_layer(std::size_t layer) const;
  void check_append(std::size_t layer, const tensor<3>& k, const tensor<3>& v) const;
};

class contiguous_kv_cache final : public kv_cache {
 public:
  // Allocates 2 · layers · kv_heads · max_seq · head_dim floats; refuses more
  // than one call may hold (base/limits.hpp).
  contiguous_kv_cache(std::size_t layers, std::size_t kv_heads, std::size_t max_seq,
                      std::size_t head_dim);

  std::size_t layers() const override { return layers_.size(); }
  std::size_t kv_heads() const override { return kv_heads_; }
  std::size_t head_dim() const override { return head_dim_; }
  std::size_t capacity() const override { return max_seq_; }
  std::size_t length() const override { return layers_.back().length; }
  void append(std::size_t layer, const tensor<3>& k, const tensor<3>& v) override;
  const attention::kv_source& layer(std::size_t layer) const override;
  void clear() override;

  std::size_t bytes() const;  // of the preallocated K and V storage

  // Bytes a contiguous cache of this size takes: 2 · layers · kv_heads · max_seq · head_dim · 4,
  // in 64 bits (saturating at 2^64 - 1).
  static std::uint64_t bytes_for(std::uint64_t layers, std::uint64_t kv_heads,
                                 std::uint64_t max_seq, std::uint64_t head_dim);

 private:
  // One layer. K is kept transposed, [kv_heads, head_dim, max_seq], so that
  // scoring a query against the cached keys runs along positions (see
  // attention::kv_source); V as [kv_heads, max_seq, head_dim]. The first
  // `length` positions of every head hold tokens.
  struct layer_store final : attention::kv_source {
    tensor<3> keys, values;
    std::size_t length = 0;
    std::size_t kv_heads() const override { return values.shape(0); }
    std::size_t seq() const override { return length; }
    std::size_t head_dim() const override { return values.shape(2); }
    const float* k(std::size_t, std::size_t) const override { return nullptr; }
    const float* k_transposed(std::size_t g, std::size_t p) const override {
      return keys.data() + g * keys.shape(1) * keys.shape(2) + p;
    }
    std::size_t k_transposed_stride() const override { return keys.shape(2); }
    const float* v(std::size_t g, std::size_t p) const override {
      return values.data() + (g * values.shape(1) + p) * values.shape(2);
    }
    std::size_t contiguous(std::size_t p) const override { return length - p; }
  };

  std::size_t kv_heads_, max_seq_, head_dim_;
  std::vector<layer_store> layers_;
};

}  // namespace memlab
