// base/limits.hpp — what one call may allocate and the work it may do, and the
// 64-bit arithmetic that checks it.
//
// The page runs every experiment in one Web Worker, on a wasm32 heap of at most
// 2 GiB where size_t is 32 bits: a size product that wraps at 2^32 allocates a
// few bytes and then writes gigabytes past them, and a call that asks for ten
// minutes of work freezes the page. So every function that takes sizes from
// outside (an experiment's config, a model file, arrays from JS) first computes,
// in 64-bit arithmetic that saturates instead of wrapping (`count`), the bytes it
// will hold at once and the work it will do, and refuses the call past a limit
// with an invalid_argument that names the sizes, their values and the limit:
//
//   "seq = 32768, head_dim = 32768, heads = 4: expected at most 1.00 GiB held by
//    one call (q, k, v, outputs and scores: 128 GiB)"
//   "repeats = 100, seq = 4096, head_dim = 64, heads = 4: expected at most
//    2.7e+11 flops of work in one call (runs of flash and naive attention: 3.8e+12)"
//
// The limits, the same natively and in wasm (so the CLI refuses what the page
// refuses, with the same message):
//   call_bytes  1 GiB held at once by one call: tracked tensors and buffers, and
//               the untracked vectors that grow with the input (a simulator's
//               timeline). Half of wasm32's 2 GiB, leaving room for the module,
//               the copies Embind makes of array arguments and the results.
//   call_work   2^38 ≈ 2.7e11 flops (a multiply-add is 2), repeats and warm-up
//               runs included; about 30 s at the ~10 GFLOP/s wasm SIMD reaches
//               in a browser here, less natively. The page's heaviest settings
//               just fit: naive and flash attention at seq 4096 (heads 4,
//               head_dim 64, 3 repeats: 1.5e11) and 500 tokens of the tiny GPT
//               without a cache (2.7e11). Work that is not arithmetic (an
//               exponential, a tile's bookkeeping, a simulator's step) is
//               counted in what it costs in flops of time, measured (each
//               function's header states its formula).
//   repeats     1 to 100 timed runs of a measurement (base/measure.hpp).
// Each experiment's header states its formulas for bytes and work.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <type_traits>

namespace memlab {

namespace limits {
constexpr std::uint64_t call_bytes = std::uint64_t{1} << 30;
constexpr double call_work = 274877906944.0;  // 2^38 flops
constexpr int repeats = 100;
}  // namespace limits

// A size or count in 64 bits whose arithmetic saturates at 2^64 - 1 instead of
// wrapping: a product past any limit stays past it. Built from any non-negative
// integer (a negative one is a bug of the caller, who checks signs first: it
// saturates too, so it is refused rather than wrapped).
class count {
 public:
  static constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();

  constexpr count() = default;
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  constexpr count(I n) : n_(from(n)) {}  // NOLINT: implicit, like the integers it stands for

  constexpr std::uint64_t value() const { return n_; }
  constexpr double as_double() const { return static_cast<double>(n_); }

  friend constexpr count operator*(count a, count b) {
    count r;
    r.n_ = (a.n_ != 0 && b.n_ > max / a.n_) ? max : a.n_ * b.n_;
    return r;
  }
  friend constexpr count operator+(count a, count b) {
    count r;
    r.n_ = b.n_ > max - a.n_ ? max : a.n_ + b.n_;
    return r;
  }
  count& operator*=(count b) { return *this = *this * b; }
  count& operator+=(count b) { return *this = *this + b; }
  friend constexpr bool operator<(count a, count b) { return a.n_ < b.n_; }
  friend constexpr bool operator<=(count a, count b) { return a.n_ <= b.n_; }
  friend constexpr bool operator>(count a, count b) { return a.n_ > b.n_; }
  friend constexpr bool operator>=(count a, count b) { return a.n_ >= b.n_; }
  friend constexpr bool operator==(count a, count b) { return a.n_ == b.n_; }
  friend constexpr bool operator!=(count a, count b) { return a.n_ != b.n_; }

  // The value as a size_t, for allocating: only after a limit was checked
  // (throws std::length_error if it does not fit, e.g. in wasm32).
  std::size_t size() const;

 private:
  template <class I>
  static constexpr std::uint64_t from(I n) {
    if constexpr (std::is_signed_v<I>)
      if (n < 0) return max;
    return static_cast<std::uint64_t>(n);
  }
  std::uint64_t n_ = 0;
};

// One size the figures of a call depend on, for the message.
struct sized {
  const char* name;
  long long value;
};

// Bytes as text, three digits: "512 B", "1.00 GiB", "16.0 EiB" (what a saturated count shows).
std::string bytes_text(count bytes);

// Throws invalid_argument unless bytes <= limits::call_bytes:
//   "<sizes>: expected at most 1.00 GiB held by one call (<what>: <bytes>)"
void require_bytes(count bytes, std::initializer_list<sized> sizes, const char* what);

// Throws invalid_argument unless work (in flops, see above) <= limits::call_work:
//   "<sizes>: expected at most 2.7e+11 flops of work in one call (<what>: <work>)"
// work is a double: a sum of products of counts, never wrapping (exact up to 2^53).
void require_work(double work, std::initializer_list<sized> sizes, const char* what);

// Throws invalid_argument unless 1 <= repeats <= limits::repeats:
//   "repeats = 0: expected an integer in [1, 100]"
void require_repeats(long long repeats, const char* name = "repeats");

// Throws invalid_argument naming the first value that is NaN or infinite:
//   "q[5] = nan: expected a finite value"
void require_finite(const float* x, std::size_t n, const char* name);

// Throws invalid_argument unless x is finite (and so not NaN):
//   "lr = nan: expected a finite number"
void require_finite(double x, const char* name);

}  // namespace memlab
