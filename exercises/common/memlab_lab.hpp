// memlab_lab.hpp — the lab's small toolkit for exercises: standard library only.
//
// Exercise code includes this header and nothing of memlab's core, so that one
// exercise compiles in a couple of seconds in the browser and natively with no
// dependency. It holds:
//
//   lab::span<T>          a pointer and a length (C++17 has no std::span)
//   lab::matrix_view<T>   rows × cols row-major floats over someone else's buffer
//   lab::matrix           an owning rows × cols float matrix (a std::vector)
//   lab::heap()           live and peak bytes of every operator new in the program,
//   lab::heap_scope       counted by exercises/common/main.cpp; tests read them
//   lab::timer            wall time in milliseconds
//   lab::rng              a seeded generator that gives the same numbers natively
//                         and in the browser (std::normal_distribution does not)
//
// Nothing here throws: exercises build with -fno-exceptions.
#pragma once

#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace lab {

// A view of n contiguous T: no ownership, no bounds checks (like std::span).
template <class T>
class span {
 public:
  span() = default;
  span(T* data, std::size_t size) : data_(data), size_(size) {}
  template <class U>  // vector<float> -> span<float> or span<const float>
  span(std::vector<U>& v) : data_(v.data()), size_(v.size()) {}
  template <class U>
  span(const std::vector<U>& v) : data_(v.data()), size_(v.size()) {}
  template <class U>  // span<float> -> span<const float>
  span(span<U> other) : data_(other.data()), size_(other.size()) {}

  T* data() const { return data_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T& operator[](std::size_t i) const { return data_[i]; }
  T* begin() const { return data_; }
  T* end() const { return data_ + size_; }
  // Elements [offset, offset + count).
  span subspan(std::size_t offset, std::size_t count) const { return {data_ + offset, count}; }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// rows × cols elements, row-major: element (i, j) is data[i * cols + j].
template <class T>
class matrix_view {
 public:
  matrix_view() = default;
  matrix_view(T* data, std::size_t rows, std::size_t cols)
      : data_(data), rows_(rows), cols_(cols) {}
  template <class U>  // matrix_view<float> -> matrix_view<const float>
  matrix_view(matrix_view<U> other)
      : data_(other.data()), rows_(other.rows()), cols_(other.cols()) {}

  T* data() const { return data_; }
  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t size() const { return rows_ * cols_; }
  T& operator()(std::size_t i, std::size_t j) const { return data_[i * cols_ + j]; }
  span<T> row(std::size_t i) const { return {data_ + i * cols_, cols_}; }
  span<T> values() const { return {data_, rows_ * cols_}; }  // all, row after row
  // Rows [first, first + count): a tile of whole rows.
  matrix_view rows_view(std::size_t first, std::size_t count) const {
    return {data_ + first * cols_, count, cols_};
  }

 private:
  T* data_ = nullptr;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
};

// An owning row-major float matrix, zero-initialised. Its bytes are heap bytes.
class matrix {
 public:
  matrix() = default;
  matrix(std::size_t rows, std::size_t cols, float value = 0.0f)
      : data_(rows * cols, value), rows_(rows), cols_(cols) {}

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t size() const { return data_.size(); }
  float* data() { return data_.data(); }
  const float* data() const { return data_.data(); }
  float& operator()(std::size_t i, std::size_t j) { return data_[i * cols_ + j]; }
  float operator()(std::size_t i, std::size_t j) const { return data_[i * cols_ + j]; }
  span<float> row(std::size_t i) { return {data_.data() + i * cols_, cols_}; }
  span<const float> row(std::size_t i) const { return {data_.data() + i * cols_, cols_}; }
  span<float> values() { return {data_.data(), data_.size()}; }  // all, row after row
  span<const float> values() const { return {data_.data(), data_.size()}; }
  matrix_view<float> view() { return {data_.data(), rows_, cols_}; }
  matrix_view<const float> view() const { return {data_.data(), rows_, cols_}; }
  operator matrix_view<float>() { return view(); }
  operator matrix_view<const float>() const { return view(); }

 private:
  std::vector<float> data_;
  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
};

// ---- heap counter --------------------------------------------------------------
// exercises/common/main.cpp replaces the global operator new and delete and
// counts every allocation of the program (yours, the standard library's, the
// tests'). The figures are exact and the same natively and in the browser.

struct heap_stats {
  std::size_t live_bytes;   // allocated and not yet freed
  std::size_t peak_bytes;   // highest live_bytes since the last reset_heap_peak()
  std::size_t allocations;  // operator new calls since the program started
};

heap_stats heap();
void reset_heap_peak();             // peak := live
void set_heap_peak(std::size_t b);  // used by heap_scope to restore an outer peak

// Measures a region: peak_bytes() is the highest live bytes reached since the
// scope began, minus the live bytes at its start; allocations() counts the
// operator new calls inside it. Scopes nest.
class heap_scope {
 public:
  heap_scope() : start_(heap()) { reset_heap_peak(); }
  ~heap_scope() {
    const heap_stats now = heap();
    if (start_.peak_bytes > now.peak_bytes) set_heap_peak(start_.peak_bytes);
  }
  heap_scope(const heap_scope&) = delete;
  heap_scope& operator=(const heap_scope&) = delete;

  std::size_t peak_bytes() const { return heap().peak_bytes - start_.live_bytes; }
  std::size_t allocations() const { return heap().allocations - start_.allocations; }

 private:
  heap_stats start_;
};

// ---- timer ---------------------------------------------------------------------

class timer {
 public:
  timer() : start_(std::chrono::steady_clock::now()) {}
  double elapsed_ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start_)
        .count();
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

// ---- random numbers --------------------------------------------------------------
// SplitMix64 with a hand-written Box–Muller transform: the standard library's
// distributions are implementation-defined, this gives the same numbers in
// libstdc++ (native) and libc++ (browser).

class rng {
 public:
  explicit rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }
  float uniform(float lo, float hi) { return lo + static_cast<float>(uniform()) * (hi - lo); }
  // Standard normal.
  float normal() {
    const double u1 = 1.0 - uniform();  // (0, 1]: log(u1) is finite
    const double u2 = uniform();
    return static_cast<float>(std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2));
  }
  void fill_normal(span<float> out, float scale = 1.0f) {
    for (float& x : out) x = scale * normal();
  }

 private:
  std::uint64_t state_;
};

}  // namespace lab
