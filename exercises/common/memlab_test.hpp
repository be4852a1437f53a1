// memlab_test.hpp — what the exercises' tests share: comparisons whose failure
// says where, by how much and what was expected, and plain double-precision
// references. Standard library and doctest only.
//
//   CHECK_CLOSE("out", out, expected, 1e-5);
//     -> out[3][5] = 0.12, expected 0.5: |difference| 0.38 > tolerance 1e-05
//   CHECK_FINITE("out", out, d, "exp overflowed: row max not subtracted?");
//     -> out[0][0] = NaN is the first non-finite value (16 of 16 are NaN or inf); likely
//        cause: exp overflowed: row max not subtracted?
//   lab::testing::hex(0xf0) -> "0xf0" (doctest's stream ignores std::hex)
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "memlab_lab.hpp"

namespace lab::testing {

// The worst element of actual against expected. NaN, infinities and a size
// mismatch count as infinitely far; the first non-finite value is the worst.
struct difference {
  double max_abs = 0;
  std::size_t index = 0;
  double actual = 0;
  double expected = 0;
  std::size_t actual_size = 0;
  std::size_t expected_size = 0;
  std::size_t nonfinite = 0;  // how many actual values are NaN or ±inf
};

template <class A, class E>
difference compare(const A& actual, const E& expected) {
  difference d;
  d.actual_size = actual.size();
  d.expected_size = expected.size();
  if (d.actual_size != d.expected_size) {
    d.max_abs = std::numeric_limits<double>::infinity();
    return d;
  }
  for (std::size_t i = 0; i < d.actual_size; ++i) {
    const double a = actual[i];
    const double e = expected[i];
    if (!std::isfinite(a)) ++d.nonfinite;
    double diff = std::fabs(a - e);
    if (!(diff <= std::numeric_limits<double>::max()))
      diff = std::numeric_limits<double>::infinity();
    if (a == e) diff = 0;  // equal infinities
    if (diff > d.max_abs || (i == 0 && diff == d.max_abs)) {
      d.max_abs = diff;
      d.index = i;
      d.actual = a;
      d.expected = e;
    }
  }
  return d;
}

// A number as the tests print it: NaN and infinities are spelled the same
// natively (libstdc++ prints "-nan") and in the browser (libc++).
inline std::string number(double x, int precision = 8) {
  if (std::isnan(x)) return "NaN";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  std::ostringstream s;
  s.precision(precision);
  s << x;
  return s.str();
}

// "0x0f": a byte (or any unsigned value) in hex, formatted here because
// doctest's message stream ignores std::hex.
inline std::string hex(unsigned value, int digits = 2) {
  static const char hex_digits[] = "0123456789abcdef";
  std::string s;
  for (int i = digits - 1; i >= 0; --i) s += hex_digits[(value >> (4 * i)) & 0xF];
  return "0x" + s;
}

// "name[i]" or, with cols > 0, "name[row][col]". A name that is a phrase
// ("the fork's key 6") is kept apart from the index: "the fork's key 6, at [2]".
inline std::string element(const std::string& name, std::size_t index, std::size_t cols) {
  std::ostringstream s;
  const char last = name.empty() ? ' ' : name.back();
  const bool identifier =
      name.find(' ') == std::string::npos &&
      (std::isalnum(static_cast<unsigned char>(last)) || last == '_' || last == ']');
  s << name << (identifier ? "" : ", at ");
  if (cols > 0)
    s << "[" << index / cols << "][" << index % cols << "]";
  else
    s << "[" << index << "]";
  return s.str();
}

inline std::string describe(const std::string& name, const difference& d, double tolerance,
                            std::size_t cols = 0) {
  std::ostringstream s;
  if (d.actual_size != d.expected_size) {
    s << name << " has " << d.actual_size << " values, expected " << d.expected_size;
    return s.str();
  }
  s << element(name, d.index, cols) << " = " << number(d.actual) << ", expected "
    << number(d.expected);
  if (!std::isfinite(d.actual))
    s << ": the first non-finite value (" << d.nonfinite << " of " << d.actual_size
      << " are NaN or inf)";
  else
    s << ": |difference| " << number(d.max_abs) << " > tolerance " << number(tolerance);
  return s.str();
}

// The first NaN or ±inf of values, "" when every value is finite.
template <class A>
std::string first_nonfinite(const std::string& name, const A& values, std::size_t cols) {
  std::size_t count = 0, first = 0;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(static_cast<double>(values[i])) && count++ == 0) first = i;
  if (count == 0) return "";
  std::ostringstream s;
  s << element(name, first, cols) << " = " << number(values[first])
    << " is the first non-finite value (" << count << " of " << values.size() << " are NaN or inf)";
  return s.str();
}

// A double-precision softmax(q kᵀ · scale) v, one query row at a time. q is
// [seq_q, d], k and v [seq_kv, d]; with causal, query i sees keys j <= i.
// Returns [seq_q, d] row-major.
inline std::vector<double> reference_attention(matrix_view<const float> q,
                                               matrix_view<const float> k,
                                               matrix_view<const float> v, bool causal) {
  const std::size_t d = q.cols();
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  std::vector<double> out(q.rows() * d, 0.0);
  std::vector<double> p(k.rows());
  for (std::size_t i = 0; i < q.rows(); ++i) {
    const std::size_t seen = causal ? i + 1 : k.rows();
    double max = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < seen; ++j) {
      double s = 0;
      for (std::size_t c = 0; c < d; ++c) s += static_cast<double>(q(i, c)) * k(j, c);
      p[j] = s * scale;
      max = std::max(max, p[j]);
    }
    double sum = 0;
    for (std::size_t j = 0; j < seen; ++j) sum += (p[j] = std::exp(p[j] - max));
    for (std::size_t j = 0; j < seen; ++j)
      for (std::size_t c = 0; c < d; ++c) out[i * d + c] += p[j] / sum * v(j, c);
  }
  return out;
}

// A rows × cols matrix of normal values (scale · N(0, 1)).
inline matrix random_matrix(rng& gen, std::size_t rows, std::size_t cols, float scale = 1.0f) {
  matrix m(rows, cols);
  for (std::size_t i = 0; i < m.size(); ++i) m.data()[i] = scale * gen.normal();
  return m;
}

inline std::string bytes(std::size_t n) {
  std::ostringstream s;
  if (n >= 1024 * 1024)
    s << static_cast<double>(n) / (1024 * 1024) << " MiB";
  else if (n >= 1024)
    s << static_cast<double>(n) / 1024 << " KiB";
  else
    s << n << " B";
  s << " (" << n << " bytes)";
  return s.str();
}

}  // namespace lab::testing

// ---- benchmarks -------------------------------------------------------------------
// A test.cpp may define one benchmark of the learner's code over a sweep of sizes.
// `./test --memlab-bench` runs it instead of the tests (the page does so once the
// tests pass, to chart the learner's implementation against the core's) and prints
// one JSON line per size:
//   {"event":"bench","name":...,"axis":...,"n":N,"ms":median,"peakBytes":B}
//
//   MEMLAB_BENCHMARK("flash_attention", "seq", 256, 512, 1024) {
//     ... inputs of size n, not measured ...
//     lab::bench::report(n, lab::bench::measure([&] { flash_attention(q, k, v, out, 64); }));
//   }
namespace lab::bench {

struct point {
  double median_ms;        // of one call, median of the timed runs
  std::size_t peak_bytes;  // heap of one run above the live bytes before it (scratch)
};

// Runs fn once untimed (warm-up; its heap is the point's), then `repeats` timed
// runs. A run is a batch of calls that takes at least min_batch_ms, timed as a
// whole and divided by its calls: a browser's clock ticks in steps of 0.1 ms,
// so a call shorter than that would read as 0 on its own.
constexpr double min_batch_ms = 2.0;

template <class F>
point measure(F&& fn, int repeats = 3) {
  std::size_t peak = 0;
  double first_ms = 0;
  {
    heap_scope scope;
    const timer t;
    fn();
    first_ms = t.elapsed_ms();
    peak = scope.peak_bytes();
  }
  std::size_t calls = 1;
  if (first_ms < min_batch_ms) {
    for (;; calls *= 2) {  // the clock may have read 0: double until a batch is long enough
      const timer t;
      for (std::size_t c = 0; c < calls; ++c) fn();
      if (t.elapsed_ms() >= min_batch_ms || calls >= (std::size_t{1} << 24)) break;
    }
  }
  std::vector<double> ms;
  for (int r = 0; r < repeats; ++r) {
    const timer t;
    for (std::size_t c = 0; c < calls; ++c) fn();
    ms.push_back(t.elapsed_ms() / static_cast<double>(calls));
  }
  std::sort(ms.begin(), ms.end());
  return {ms[ms.size() / 2], peak};
}

// Prints the JSON line of size n (see above).
void report(std::size_t n, const point& p);

// Registers the benchmark (used by MEMLAB_BENCHMARK; defined in main.cpp).
struct registrar {
  registrar(const char* name, const char* axis, std::vector<std::size_t> sizes,
            void (*run)(std::size_t));
};

}  // namespace lab::bench

#define MEMLAB_BENCHMARK(name, axis, ...)                                                    \
  static void memlab_benchmark(std::size_t n);                                               \
  static const ::lab::bench::registrar memlab_benchmark_registrar(name, axis, {__VA_ARGS__}, \
                                                                  &memlab_benchmark);        \
  static void memlab_benchmark(std::size_t n)

// One assertion over whole arrays (anything with size() and operator[]): on
// failure it names the worst element, its value, the expected one and by how
// much. Like every assertion here (DOCTEST_CONFIG_ASSERTS_RETURN_VALUES) it is
// true when it passed:  if (!CHECK_CLOSE(...)) return;
#define CHECK_CLOSE(name, actual, expected, tolerance) \
  CHECK_CLOSE_MATRIX(name, actual, expected, 0, tolerance)

// The same for a row-major matrix with `cols` columns: names [row][col].
#define CHECK_CLOSE_MATRIX(name, actual, expected, cols, tolerance)                         \
  [&]() -> bool {                                                                           \
    const ::lab::testing::difference worst = ::lab::testing::compare((actual), (expected)); \
    const double max_abs_difference = worst.max_abs;                                        \
    return CHECK_MESSAGE(max_abs_difference <= (tolerance),                                 \
                         ::lab::testing::describe((name), worst, (tolerance), (cols)));     \
  }()

// Every value finite; on failure it names the first NaN or inf, where it sits
// and the likely cause the test knows of:
//   CHECK_FINITE("out", out, d, "exp overflowed: row max not subtracted?");
//     -> out[0][0] = NaN is the first non-finite value (16 of 16 are NaN or inf);
//        likely cause: exp overflowed: row max not subtracted?
#define CHECK_FINITE(name, values, cols, cause)                                              \
  [&]() -> bool {                                                                            \
    const std::string nonfinite = ::lab::testing::first_nonfinite((name), (values), (cols)); \
    const std::string why = (cause);                                                         \
    return CHECK_MESSAGE(nonfinite.empty(), nonfinite << "; likely cause: " << why);         \
  }()
