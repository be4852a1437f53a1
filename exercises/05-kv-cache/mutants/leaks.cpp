// mutant: K and V are raw new[] arrays that the class never deletes
// expect: the destructor leaves 2 KiB (2048 bytes) allocated

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "memlab_lab.hpp"

class kv_cache {
 public:
  kv_cache(std::size_t max_seq, std::size_t kv_heads, std::size_t head_dim)
      : max_seq_(max_seq),
        kv_heads_(kv_heads),
        head_dim_(head_dim),
        k_(new float[max_seq * kv_heads * head_dim]()),
        v_(new float[max_seq * kv_heads * head_dim]()) {}

  bool append(lab::span<const float> k, lab::span<const float> v) {
    if (size_ == max_seq_) return false;
    for (std::size_t h = 0; h < kv_heads_; ++h)
      for (std::size_t x = 0; x < head_dim_; ++x) {
        k_[offset(h, size_) + x] = k[h * head_dim_ + x];
        v_[offset(h, size_) + x] = v[h * head_dim_ + x];
      }
    ++size_;
    return true;
  }

  std::size_t size() const { return size_; }
  std::size_t capacity() const { return max_seq_; }

  lab::span<const float> key(std::size_t head, std::size_t pos) const {
    return {k_ + offset(head, pos), head_dim_};
  }
  lab::span<const float> value(std::size_t head, std::size_t pos) const {
    return {v_ + offset(head, pos), head_dim_};
  }

 private:
  std::size_t offset(std::size_t head, std::size_t pos) const {
    return (head * max_seq_ + pos) * head_dim_;
  }

  std::size_t max_seq_, kv_heads_, head_dim_, size_ = 0;
  float *k_, *v_;  // [kv_heads][max_seq][head_dim]
};

void attend(const kv_cache& cache, std::size_t kv_head, lab::span<const float> q,
            lab::span<float> out) {
  const std::size_t n = cache.size(), d = q.size();
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  std::vector<float> p(n);
  float max = -std::numeric_limits<float>::infinity();
  for (std::size_t j = 0; j < n; ++j) {
    const lab::span<const float> k = cache.key(kv_head, j);
    float dot = 0;
    for (std::size_t x = 0; x < d; ++x) dot += q[x] * k[x];
    p[j] = scale * dot;
    max = std::max(max, p[j]);
  }
  float sum = 0;
  for (std::size_t j = 0; j < n; ++j) sum += (p[j] = std::exp(p[j] - max));
  for (std::size_t x = 0; x < d; ++x) out[x] = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const lab::span<const float> v = cache.value(kv_head, j);
    for (std::size_t x = 0; x < d; ++x) out[x] += p[j] / sum * v[x];
  }
}
