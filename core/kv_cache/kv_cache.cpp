#include "kv_cache/kv_cache.hpp"

#include <algorithm>
#include <string>

#include "base/error.hpp"
#include "base/limits.hpp"

namespace memlab {

void kv_cache::check_layer(std::size_t layer) const {
  require(layer < layers(), "layer", layer,
          [&] { return "less than " + named("layers", layers()); });
}

void kv_cache::check_append(std::size_t layer, const tensor<3>& k, const tensor<3>& v) const {
  check_layer(layer);
  require(
      k.shape(0) == kv_heads() && k.shape(2) == head_dim(), "k.shape",
      [&] { return shape_text(k.shape()); },
      [&] {
        return "[kv_heads = " + std::to_string(kv_heads()) +
               ", n, head_dim = " + std::to_string(head_dim()) + "]";
      });
  require(
      v.shape() == k.shape(), "v.shape", [&] { return shape_text(v.shape()); },
      [&] { return "the same as k.shape = " + shape_text(k.shape()); });
}

contiguous_kv_cache::contiguous_kv_cache(std::size_t layers, std::size_t kv_heads,
                                         std::size_t max_seq, std::size_t head_dim)
    : kv_heads_(kv_heads), max_seq_(max_seq), head_dim_(head_dim) {
  require(layers > 0, "layers", layers, "at least 1");
  require(kv_heads > 0, "kv_heads", kv_heads, "at least 1");
  require(max_seq > 0, "max_seq", max_seq, "at least 1");
  require(head_dim > 0, "head_dim", head_dim, "at least 1");
  require_bytes(bytes_for(layers, kv_heads, max_seq, head_dim),
                {{"layers", static_cast<long long>(layers)},
                 {"kv_heads", static_cast<long long>(kv_heads)},
                 {"max_seq", static_cast<long long>(max_seq)},
                 {"head_dim", static_cast<long long>(head_dim)}},
                "a contiguous KV cache");
  // Zeroed now, so the pages are the process's before the first token: left
  // to the first appends, every 4 KiB page faulted in during decoding (K's
  // transposed rows are all touched by the first token), some 2.5 us a step of
  // the tiny GPT's 100 tokens.
  layers_.resize(layers);
  for (auto& store : layers_) {
    store.keys = xt::zeros<float>({kv_heads, head_dim, max_seq});
    store.values = xt::zeros<float>({kv_heads, max_seq, head_dim});
  }
}

void contiguous_kv_cache::append(std::size_t layer, const tensor<3>& k, const tensor<3>& v) {
  check_append(layer, k, v);
  layer_store& store = layers_[layer];
  const std::size_t n = k.shape(1);
  require(store.length + n <= max_seq_, "tokens", store.length + n, [&] {
    return "at most " + named("max_seq", max_seq_) + " (the cache holds " +
           std::to_string(store.length) + " and " + std::to_string(n) + " more were appended)";
  });
  // Write the new tokens into place; nothing already stored moves. K goes in
  // transposed: dimension c of token t at keys(g, c, length + t).
  for (std::size_t g = 0; g < kv_heads_; ++g)
    for (std::size_t t = 0; t < n; ++t) {
      const float* k_row = k.data() + (g * n + t) * head_dim_;
      float* k_column = store.keys.data() + g * head_dim_ * max_seq_ + store.length + t;
      for (std::size_t c = 0; c < head_dim_; ++c) k_column[c * max_seq_] = k_row[c];
      std::copy_n(v.data() + (g * n + t) * head_dim_, head_dim_,
                  store.values.data() + (g * max_seq_ + store.length + t) * head_dim_);
    }
  store.length += n;
}

const attention::kv_source& contiguous_kv_cache::layer(std::size_t layer) const {
  check_layer(layer);
  return layers_[layer];
}

void contiguous_kv_cache::clear() {
  for (auto& store : layers_) store.length = 0;
}

std::size_t contiguous_kv_cache::bytes() const {
  return bytes_for(layers_.size(), kv_heads_, max_seq_, head_dim_);
}

std::uint64_t contiguous_kv_cache::bytes_for(std::uint64_t layers, std::uint64_t kv_heads,
                                             std::uint64_t max_seq, std::uint64_t head_dim) {
  return (count(layers) * attention::kv_bytes(kv_heads, max_seq, head_dim)).value();
}

}  // namespace memlab
