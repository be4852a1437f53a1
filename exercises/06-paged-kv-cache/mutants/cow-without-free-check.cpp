// mutant: with no free block for a copy-on-write, the fork writes into the shared block in place
// and returns true
// expect: the fork's append returned true with no free block: writing into the shared last block
// needs a copy first

#include <algorithm>
#include <vector>

#include "memlab_lab.hpp"

class paged_kv_cache {
 public:
  paged_kv_cache(std::size_t num_blocks, std::size_t block_size, std::size_t width)
      : block_size_(block_size),
        width_(width),
        k_(num_blocks * block_size * width),
        v_(num_blocks * block_size * width),
        refs_(num_blocks, 0) {
    // the free list is a stack: the lowest ids come out first
    for (std::size_t b = num_blocks; b-- > 0;) free_.push_back(static_cast<int>(b));
  }

  int add_sequence() {
    sequences_.push_back({});
    return static_cast<int>(sequences_.size()) - 1;
  }

  bool append(int seq, lab::span<const float> k, lab::span<const float> v) {
    sequence& s = sequences_[seq];
    const std::size_t slot = s.length % block_size_;
    if (slot == 0) {  // no block yet, or the last one is full
      if (free_.empty()) return false;
      s.blocks.push_back(take());
    } else if (refs_[s.blocks.back()] > 1 && !free_.empty()) {  // copy on write, if it can
      const int copy = take();
      const int shared = s.blocks.back();
      std::copy_n(&k_[offset(shared, 0)], slot * width_, &k_[offset(copy, 0)]);
      std::copy_n(&v_[offset(shared, 0)], slot * width_, &v_[offset(copy, 0)]);
      --refs_[shared];
      s.blocks.back() = copy;
    }
    std::copy_n(k.data(), width_, &k_[offset(s.blocks.back(), slot)]);
    std::copy_n(v.data(), width_, &v_[offset(s.blocks.back(), slot)]);
    ++s.length;
    return true;
  }

  std::size_t length(int seq) const { return sequences_[seq].length; }

  lab::span<const float> key(int seq, std::size_t pos) const {
    return {&k_[where(seq, pos)], width_};
  }
  lab::span<const float> value(int seq, std::size_t pos) const {
    return {&v_[where(seq, pos)], width_};
  }

  const std::vector<int>& block_table(int seq) const { return sequences_[seq].blocks; }

  int fork(int seq) {
    sequences_.push_back(sequences_[seq]);
    for (int b : sequences_.back().blocks) ++refs_[b];
    return static_cast<int>(sequences_.size()) - 1;
  }

  void free_sequence(int seq) {
    for (int b : sequences_[seq].blocks)
      if (--refs_[b] == 0) free_.push_back(b);
    sequences_[seq] = {};
  }

  std::size_t free_blocks() const { return free_.size(); }
  int ref_count(int block) const { return refs_[block]; }

 private:
  struct sequence {
    std::vector<int> blocks;  // the block table
    std::size_t length = 0;
  };

  int take() {
    const int b = free_.back();
    free_.pop_back();
    refs_[b] = 1;
    return b;
  }
  std::size_t offset(int block, std::size_t slot) const {
    return (static_cast<std::size_t>(block) * block_size_ + slot) * width_;
  }
  std::size_t where(int seq, std::size_t pos) const {
    return offset(sequences_[seq].blocks[pos / block_size_], pos % block_size_);
  }

  std::size_t block_size_, width_;
  std::vector<float> k_, v_;  // [num_blocks][block_size][width]
  std::vector<int> refs_;     // per block: how many block tables hold it
  std::vector<int> free_;     // blocks nobody holds
  std::vector<sequence> sequences_;
};
