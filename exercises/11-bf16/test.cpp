// Exercise 11 — bfloat16: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

namespace {

// 0x3F80: formatted here (doctest's stream ignores std::hex).
std::string hex(std::uint32_t bits, int digits = 4) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%0*X", digits, static_cast<unsigned>(bits));
  return text;
}

// A float written exactly: 1.00390625, 3.3895314e+38, 7.3468396e-40.
std::string text(double x) {
  char out[40];
  std::snprintf(out, sizeof out, "%.9g", x);
  return out;
}

// What a float's bits mean, for the messages.
std::string bits_text(std::uint32_t u) { return text(float_of(u)) + " = bits " + hex(u, 8); }

struct rounding_case {
  std::uint32_t in;
  bf16 out;
  const char* why;
};

void check_roundings(const rounding_case* cases, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    const rounding_case& c = cases[i];
    const bf16 got = float_to_bf16(float_of(c.in));
    CHECK_MESSAGE(got == c.out, "float_to_bf16(" << bits_text(c.in) << ") = " << hex(got)
                                                 << ", expected " << hex(c.out) << ": "
                                                 << std::string(c.why));
  }
}

// x rounded to the nearest bf16, ties to even, computed in double with
// std::nearbyint (the FPU's round-to-nearest-even), not with bit tricks.
double nearest_bf16(double x) {
  if (x == 0) return x;
  int e;
  std::frexp(x, &e);                                           // |x| = m · 2^e, 0.5 <= m < 1
  const double step = std::ldexp(1.0, std::max(e, -125) - 8);  // 8 bits; 2^-133 for subnormals
  return std::nearbyint(x / step) * step;
}

std::vector<bf16> to_bf16(const std::vector<float>& x) {
  std::vector<bf16> out;
  for (const float v : x) out.push_back(float_to_bf16(v));
  return out;
}

}  // namespace

TEST_CASE("bf16_to_float: the bf16's bits are the top half of the float's") {
  const struct {
    bf16 in;
    float out;
  } cases[] = {
      {0x3F80, 1.0f},
      {0xC040, -3.0f},
      {0x7F80, std::numeric_limits<float>::infinity()},
      {0xFF80, -std::numeric_limits<float>::infinity()},
      {0x7F7F, float_of(0x7F7F0000)},    // the largest bf16, 3.3895314e38
      {0x0001, std::ldexp(1.0f, -133)},  // the smallest subnormal bf16
  };
  for (const auto& c : cases) {
    const float got = bf16_to_float(c.in);
    CHECK_MESSAGE(got == c.out, "bf16_to_float(" << hex(c.in) << ") = " << text(got)
                                                 << ", expected " << text(c.out)
                                                 << " (the float with bits "
                                                 << hex(std::uint32_t{c.in} << 16, 8) << ")");
  }
  const float minus_zero = bf16_to_float(0x8000);
  CHECK_MESSAGE((minus_zero == 0 && std::signbit(minus_zero)),
                "bf16_to_float(0x8000) = " << text(minus_zero) << ", expected -0 (the sign bit)");
}

TEST_CASE("float_to_bf16: values that fit keep their bits") {
  const rounding_case cases[] = {
      {0x3F800000, 0x3F80, "1 is exact"},
      {0xC0400000, 0xC040, "-3 is exact"},
      {0x00000000, 0x0000, "+0"},
      {0x80000000, 0x8000, "-0 keeps its sign"},
      {0x7F800000, 0x7F80, "infinity stays infinity"},
      {0xFF800000, 0xFF80, "-infinity stays -infinity"},
      {0x00010000, 0x0001, "the smallest subnormal bf16 is exact"},
  };
  check_roundings(cases, sizeof cases / sizeof cases[0]);
}

TEST_CASE("float_to_bf16: rounds to the nearest, not towards zero") {
  const rounding_case cases[] = {
      {0x3F80C000, 0x3F81, "above halfway rounds up (truncation gives 0x3F80)"},
      {0x3F80FFFF, 0x3F81, "just below the next bf16 rounds up to it"},
      {0x3F807FFF, 0x3F80, "below halfway rounds down"},
      {0xBF80C000, 0xBF81, "a negative value rounds to the nearest too: away from zero here"},
  };
  check_roundings(cases, sizeof cases / sizeof cases[0]);
}

TEST_CASE("float_to_bf16: a tie goes to the even neighbour") {
  const rounding_case cases[] = {
      {0x3F808000, 0x3F80, "1 + 2^-8 is halfway between 0x3F80 and 0x3F81: the even one, 0x3F80"},
      {0x3F818000, 0x3F82, "halfway between 0x3F81 and 0x3F82: the even one, 0x3F82"},
      {0xBF808000, 0xBF80, "-(1 + 2^-8) is a tie too: the even one, 0xBF80"},
  };
  check_roundings(cases, sizeof cases / sizeof cases[0]);
}

TEST_CASE("float_to_bf16: the rounding carries into the exponent") {
  const rounding_case cases[] = {
      {0x3FFF8000, 0x4000, "a tie with an odd last bit rounds up, into the exponent: 2.0"},
      {0x7F7F7FFF, 0x7F7F, "below halfway past the largest bf16: the largest bf16"},
      {0x7F7FFFFF, 0x7F80, "FLT_MAX rounds past the largest bf16: infinity"},
      {0xFF7FFFFF, 0xFF80, "-FLT_MAX: -infinity"},
  };
  check_roundings(cases, sizeof cases / sizeof cases[0]);
}

TEST_CASE("float_to_bf16: subnormals round the same way, not flushed to zero") {
  const rounding_case cases[] = {
      {0x00018000, 0x0002,
       "a subnormal tie goes to the even neighbour (subnormals are kept, not flushed to zero)"},
      {0x00008001, 0x0001, "above half the smallest subnormal: the smallest subnormal, not 0"},
      {0x00008000, 0x0000, "exactly half the smallest subnormal: a tie, to the even 0"},
      {0x007FFFFF, 0x0080,
       "the largest float subnormal rounds up to the smallest normal bf16, 2^-126"},
  };
  check_roundings(cases, sizeof cases / sizeof cases[0]);
}

TEST_CASE("float_to_bf16: NaN stays NaN, quiet, with its sign") {
  for (const std::uint32_t in : {0x7FC00000u, 0x7F800001u, 0xFF800001u, 0xFFFFFFFFu, 0x7FA00000u}) {
    const bf16 got = float_to_bf16(float_of(in));
    const bool nan = (got & 0x7F80) == 0x7F80 && (got & 0x007F) != 0;
    INFO("float_to_bf16(NaN with bits " << hex(in, 8) << ") = " << hex(got));
    const std::string what =
        (got & 0x7FFF) == 0x7F80
            ? "that is infinity: expected a NaN (exponent 0xFF, mantissa not 0)"
            : "expected a NaN (exponent 0xFF, mantissa not 0)";
    if (!CHECK_MESSAGE(nan, what)) continue;
    CHECK_MESSAGE((got & 0x0040) != 0, "a signalling NaN: expected the quiet bit 0x0040 set");
    CHECK_MESSAGE((got >> 15) == (in >> 31), "the sign bit was lost: expected it kept");
  }
}

TEST_CASE("float_to_bf16: random floats round to the nearest bf16, ties to even") {
  lab::rng gen(11);
  int checked = 0;
  for (int n = 0; n < 20000 && checked < 10000; ++n) {
    const std::uint32_t u = static_cast<std::uint32_t>(gen.next());
    const float x = float_of(u);
    if (!std::isfinite(x) || std::fabs(x) >= 3.389e38f) continue;  // NaN, infinity, overflow: above
    ++checked;
    const double expected = nearest_bf16(x);
    const bf16 got = float_to_bf16(x);
    if (!CHECK_MESSAGE(double(bf16_to_float(got)) == expected,
                       "float_to_bf16(" << bits_text(u) << ") = " << hex(got) << " = "
                                        << text(bf16_to_float(got)) << ", expected "
                                        << text(expected) << " (the nearest bf16, ties to even)"))
      break;
  }
}

TEST_CASE("dot_bf16: bf16 products summed in float") {
  // One product: bf16 values have 8 significant bits, their product 16: exact in float.
  const std::vector<bf16> one = {0x3F81};  // 1 + 2^-7
  const float square = dot_bf16(one, one);
  CHECK_MESSAGE(square == 1.01568603515625f,
                "dot_bf16 of (1 + 2^-7) · (1 + 2^-7) = "
                    << text(square)
                    << ", expected 1.01568603515625 (1 + 2^-6 + 2^-14, exact in float)");
  const std::vector<bf16> ones(1024, 0x3F80);
  const float count = dot_bf16(ones, ones);
  CHECK_MESSAGE(count == 1024.0f,
                "dot_bf16 of 1024 ones = " << text(count)
                                           << ", expected 1024 (float sums count on past 256)");

  // 1000 random terms: within γ_n Σ|a_i b_i| of the exact sum of the bf16 products
  // (Higham: n float additions, u = 2^-24, γ_n = n u / (1 - n u)).
  lab::rng gen(12);
  std::vector<float> x(1000), y(1000);
  gen.fill_normal(x);
  gen.fill_normal(y);
  const std::vector<bf16> a = to_bf16(x), b = to_bf16(y);
  double exact = 0, magnitude = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    // the bf16 values, read without bf16_to_float: the top half of a float
    const double ai = float_of(std::uint32_t{a[i]} << 16), bi = float_of(std::uint32_t{b[i]} << 16);
    exact += ai * bi;
    magnitude += std::fabs(ai * bi);
  }
  const double u = std::ldexp(1.0, -24), gamma = 1000 * u / (1 - 1000 * u);
  const float got = dot_bf16(a, b);
  CHECK_MESSAGE(std::fabs(got - exact) <= gamma * magnitude,
                "dot_bf16 of 1000 random values = " << text(got) << ", expected " << text(exact)
                                                    << " within " << text(gamma * magnitude)
                                                    << " (float sums: γ_n Σ|a b|)");
}

TEST_CASE("dot_bf16_accumulate_bf16: every product and sum rounded to bf16") {
  const std::vector<bf16> one = {0x3F81};  // 1 + 2^-7
  const float square = dot_bf16_accumulate_bf16(one, one);
  CHECK_MESSAGE(square == 1.015625f,
                "dot_bf16_accumulate_bf16 of (1 + 2^-7)² = "
                    << text(square)
                    << ", expected 1.015625: the product 1 + 2^-6 + 2^-14 rounded to bf16");
  const std::vector<bf16> ones(1024, 0x3F80);
  const float count = dot_bf16_accumulate_bf16(ones, ones);
  CHECK_MESSAGE(
      count == 256.0f,
      "dot_bf16_accumulate_bf16 of 1024 ones = "
          << text(count)
          << ", expected 256: 256 + 1 = 257 is a tie between 256 and 258, rounded to even: 256");
  // 1 + 2^-9 rounds back to 1, four times; float would reach 1 + 2^-7.
  const std::vector<bf16> a = {0x3F80, 0x3B00, 0x3B00, 0x3B00, 0x3B00}, b(5, 0x3F80);
  const float stalled = dot_bf16_accumulate_bf16(a, b);
  CHECK_MESSAGE(stalled == 1.0f, "dot_bf16_accumulate_bf16 of 1 + 4 · 2^-9 = "
                                     << text(stalled)
                                     << ", expected 1: each 1 + 2^-9 rounds back to 1");
  // 1 · 1 + 2^-8 (1 + 2^-7) · (1 - 2^-8): the second product, 2^-8 (1 + 2^-8 - 2^-15),
  // rounds to 2^-8 first; then 1 + 2^-8 is a tie, to even: 1. Unrounded, the sum
  // is just above the tie and would round up to 1 + 2^-7.
  const std::vector<bf16> pa = {0x3F80, 0x3B81}, pb = {0x3F80, 0x3F7F};
  const float tie = dot_bf16_accumulate_bf16(pa, pb);
  CHECK_MESSAGE(tie == 1.0f,
                "dot_bf16_accumulate_bf16 of 1 + 2^-8 (1 + 2^-7)(1 - 2^-8) = "
                    << text(tie)
                    << ", expected 1: the product rounds to 2^-8 before it is added, and 1 + 2^-8 "
                       "is a tie, to even");

  // Random terms: the same as rounding each product and sum by hand (in double).
  lab::rng gen(13);
  std::vector<float> x(300), y(300);
  gen.fill_normal(x);
  gen.fill_normal(y);
  const std::vector<bf16> ra = to_bf16(x), rb = to_bf16(y);
  double expected = 0;
  for (std::size_t i = 0; i < ra.size(); ++i) {
    const double p =
        double(float_of(std::uint32_t{ra[i]} << 16)) * float_of(std::uint32_t{rb[i]} << 16);
    expected = nearest_bf16(expected + nearest_bf16(p));
  }
  const float got = dot_bf16_accumulate_bf16(ra, rb);
  CHECK_MESSAGE(double(got) == expected, "dot_bf16_accumulate_bf16 of 300 random values = "
                                             << text(got) << ", expected " << text(expected)
                                             << " (each product, then each sum, rounded)");
}

// The page's chart once the tests pass: a dot product of n bf16 values, float sums.
MEMLAB_BENCHMARK("dot_bf16", "n", 4096, 65536, 1048576) {
  lab::rng gen(14);
  std::vector<float> x(n), y(n);
  gen.fill_normal(x);
  gen.fill_normal(y);
  const std::vector<bf16> a = to_bf16(x), b = to_bf16(y);
  volatile float sink = 0;
  lab::bench::report(n, lab::bench::measure([&] { sink = dot_bf16(a, b); }));
  (void)sink;
}
