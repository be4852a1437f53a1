// fp16 and bf16: hand-worked conversions, an independent rounding reference
// (std::nearbyint in double), the textbook error bounds of dot products, and
// attention's overflow in fp16.
#include "precision/precision.hpp"

#include <doctest/doctest.h>

#include <cfenv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/memory.hpp"
#include "base/random.hpp"
#include "precision/bf16.hpp"
#include "precision/experiment.hpp"
#include "quant/fp16.hpp"
#include "reference.hpp"

using namespace memlab;
using precision::format;

namespace {

float float_of(std::uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

std::string hex(unsigned value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%04X", value);
  return text;
}

// x rounded to p significant bits, ties to even, in double (the FPU's default
// rounding mode): the value, ignoring the format's range. Independent of the
// bit tricks under test.
double round_to_bits(double x, int p) {
  if (x == 0 || !std::isfinite(x)) return x;
  int e;
  std::frexp(x, &e);  // x = m · 2^e, 0.5 <= |m| < 1
  const double step = std::ldexp(1.0, e - p);
  return std::nearbyint(x / step) * step;
}

// Higham's γ_n = n u / (1 - n u).
double gamma(std::size_t n, double u) { return double(n) * u / (1 - double(n) * u); }

}  // namespace

TEST_CASE("bf16: hand-worked roundings to nearest even") {
  const struct {
    std::uint32_t in;
    unsigned out;
    const char* why;
  } cases[] = {
      {0x3F800000, 0x3F80, "1.0 is exact"},
      {0x3F808000, 0x3F80, "1 + 2^-8 is halfway between 1 and 1 + 2^-7: the even one, 1"},
      {0x3F818000, 0x3F82, "1 + 3·2^-8 is halfway between 0x3F81 and 0x3F82: the even one, up"},
      {0x3F808001, 0x3F81, "just above halfway rounds up"},
      {0x3F807FFF, 0x3F80, "just below halfway rounds down"},
      {0xBFC00000, 0xBFC0, "-1.5 is exact, sign kept"},
      {0x80000000, 0x8000, "-0 stays -0"},
      {0x7F7F7FFF, 0x7F7F, "just below halfway past the largest bf16 (3.3895e38) stays finite"},
      {0x7F7FFFFF, 0x7F80, "FLT_MAX rounds past the largest bf16: +inf"},
      {0xFF7FFFFF, 0xFF80, "-FLT_MAX: -inf"},
      {0x7F800000, 0x7F80, "+inf stays +inf"},
      {0x00080000, 0x0008, "the subnormal 2^-130 is exact"},
      {0x00018000, 0x0002, "a subnormal tie rounds to even (up)"},
      {0x00008000, 0x0000, "half the smallest subnormal is a tie: to even, +0"},
      {0x00008001, 0x0001, "just above it: the smallest subnormal 2^-133"},
      {0x007FFFFF, 0x0080, "the largest fp32 subnormal rounds up to the smallest normal 2^-126"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.why);
    CHECK(hex(bf16::from_float(float_of(c.in))) == hex(c.out));
  }
  CHECK(bf16::to_float(0x3F80) == 1.0f);
  CHECK(bf16::to_float(0x7F7F) == doctest::Approx(3.3895314e38));
  CHECK(bf16::to_float(0x0080) == std::ldexp(1.0f, -126));
}

TEST_CASE("bf16: NaN stays NaN and quiet, never inf (truncation would make 0x7F800001 inf)") {
  const struct {
    std::uint32_t in;
    unsigned out;
  } cases[] = {{0x7FC00000, 0x7FC0},
               {0x7F800001, 0x7FC0},
               {0xFF800001, 0xFFC0},
               {0x7FFFFFFF, 0x7FFF},
               {0x7FA00000, 0x7FE0}};
  for (const auto& c : cases) {
    CAPTURE(hex(c.in >> 16));
    const bf16::half h = bf16::from_float(float_of(c.in));
    CHECK(hex(h) == hex(c.out));
    CHECK(std::isnan(bf16::to_float(h)));
    CHECK((h & 0x0040) != 0);  // the quiet bit
  }
}

TEST_CASE("bf16: every value round-trips, and rounding agrees with nearbyint on 8 bits") {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float f = bf16::to_float(static_cast<bf16::half>(h));
    if (std::isnan(f)) continue;
    if (bf16::from_float(f) != h) FAIL_CHECK("bf16 " << hex(h) << " does not round-trip");
  }
  REQUIRE(std::fegetround() == FE_TONEAREST);
  rng gen(1);
  for (int n = 0; n < 200000; ++n) {
    // Random bit patterns: every exponent, subnormals included.
    const std::uint32_t bits = static_cast<std::uint32_t>(gen.next_u64());
    const float x = float_of(bits);
    if (!std::isfinite(x) || std::abs(x) >= 3.389e38f) continue;
    const double expected = std::abs(x) < std::ldexp(1.0, -126)
                                ? std::nearbyint(double(x) / std::ldexp(1.0, -133)) *
                                      std::ldexp(1.0, -133)  // subnormal: a fixed step 2^-133
                                : round_to_bits(x, 8);
    const double got = bf16::round_trip(x);
    if (got != expected) {
      FAIL_CHECK("bits " << bits << ": bf16 " << got << ", expected " << expected);
      break;
    }
  }
}

TEST_CASE("fp16: hand-worked roundings, overflow at 65520, subnormals, quiet NaN") {
  const struct {
    float in;
    unsigned out;
    const char* why;
  } cases[] = {
      {1.0f, 0x3C00, "1.0 is exact"},
      {1.0f + std::ldexp(1.0f, -11), 0x3C00, "1 + 2^-11 is a tie: to even, 1"},
      {1.0f + 3 * std::ldexp(1.0f, -11), 0x3C02, "1 + 3·2^-11 is a tie: to even, up"},
      {65504.0f, 0x7BFF, "the largest fp16"},
      {65519.0f, 0x7BFF, "65519 is below the halfway point 65520: 65504"},
      {65520.0f, 0x7C00, "65520 is halfway to 2^16, which has no fp16: +inf"},
      {-65520.0f, 0xFC00, "-65520: -inf"},
      {std::ldexp(1.0f, -14), 0x0400, "2^-14, the smallest normal"},
      {std::ldexp(1.0f, -24), 0x0001, "2^-24, the smallest subnormal"},
      {std::ldexp(1.0f, -25), 0x0000, "2^-25 is a tie between 0 and 2^-24: to even, 0"},
      {std::ldexp(3.0f, -25), 0x0002, "3·2^-25 is a tie between 1 and 2 steps: to even, 2"},
      {std::ldexp(1.5f, -25), 0x0001, "1.5·2^-25 rounds up to 2^-24"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.why);
    CHECK(hex(fp16::from_float(c.in)) == hex(c.out));
  }
  const std::uint16_t nan = fp16::from_float(float_of(0x7F800001));  // signalling fp32 NaN
  CHECK(std::isnan(fp16::to_float(nan)));
  CHECK((nan & 0x0200) != 0);  // the quiet bit of fp16
  CHECK(std::isinf(precision::round(format::fp16, 65520.0f)));
  CHECK(precision::round(format::fp16, 65519.0f) == 65504.0f);
  CHECK(precision::largest_finite(format::fp16) == 65504.0);
}

TEST_CASE("a store rounds with relative error at most u = 2^-p, and about that much") {
  rng gen(2);
  for (const format f : {format::fp16, format::bf16}) {
    CAPTURE(precision::format_name(f));
    const double u = precision::unit_roundoff(f);
    double worst = 0;
    for (int n = 0; n < 100000; ++n) {
      const float x = gen.normal();
      if (std::abs(x) < 6.2e-5f) continue;  // fp16 subnormals have a fixed step, not a relative one
      const double error = std::abs(double(precision::round(f, x)) - x) / std::abs(x);
      worst = std::max(worst, error);
    }
    CHECK(worst <= u);
    CHECK(worst >= 0.99 * u);  // the bound is tight: u is the right figure
  }
  CHECK(precision::unit_roundoff(format::fp16) == std::ldexp(1.0, -11));
  CHECK(precision::unit_roundoff(format::bf16) == std::ldexp(1.0, -8));
}

TEST_CASE("matmul error within Higham's bounds; fp32 sums are far better than low-format sums") {
  // a [4, k] and b [k, 4] uniform in [0, 1): positive terms, so Σ|a b| = the exact sum.
  rng gen(3);
  const std::size_t k = 64;
  auto a = tensor<2>::from_shape({4, k});
  auto b = tensor<2>::from_shape({k, 4});
  for (float& x : a) x = gen.uniform();
  for (float& x : b) x = gen.uniform();
  std::vector<double> exact(16, 0.0);
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t j = 0; j < 4; ++j)
      for (std::size_t t = 0; t < k; ++t) exact[i * 4 + j] += double(a(i, t)) * b(t, j);

  const double u32 = precision::unit_roundoff(format::fp32);
  const struct {
    precision::arithmetic how;
  } cases[] = {{{format::fp32, format::fp32}},
               {{format::fp16, format::fp32}},
               {{format::bf16, format::fp32}},
               {{format::fp16, format::fp16}},
               {{format::bf16, format::bf16}}};
  double low_error[3] = {0, 0, 0};  // by storage format, with fp32 sums
  for (const auto& c : cases) {
    const double uf = precision::unit_roundoff(c.how.storage);
    const double ua = precision::unit_roundoff(c.how.accumulate);
    CAPTURE(precision::format_name(c.how.storage));
    CAPTURE(precision::format_name(c.how.accumulate));
    const tensor<2> got = precision::matmul(a, b, c.how);
    double worst = 0;
    for (std::size_t i = 0; i < 16; ++i) {
      const double s = exact[i];
      // inputs stored: (2u_F + u_F²) s; summed in A: γ_k(u_A)(1 + u_F)² s; the result stored: u_F.
      const double bound = (2 * uf + uf * uf + gamma(k, ua) * (1 + uf) * (1 + uf)) * s;
      const double total = bound + (c.how.storage == format::fp32 ? 0 : uf * (s + bound));
      const double error = std::abs(got.data()[i] - s);
      CHECK(error <= total);
      worst = std::max(worst, error / s);
    }
    if (c.how.accumulate == format::fp32) low_error[static_cast<int>(c.how.storage)] = worst;
    if (c.how.accumulate != format::fp32)  // worse than the same storage with fp32 sums
      CHECK(worst > 2 * low_error[static_cast<int>(c.how.storage)]);
  }
  CHECK(low_error[0] <= gamma(k, u32));
}

TEST_CASE("summing ones: bf16 sums stall at 256, fp16 sums at 2048, fp32 sums count on") {
  // 256 + 1 = 257 needs 9 significant bits; bf16 has 8, and 257 is halfway
  // between 256 and 258: ties to even give 256, forever.
  for (const std::size_t n : {512, 4096}) {
    auto ones_row = tensor<2>::from_shape({1, n});
    auto ones_col = tensor<2>::from_shape({n, 1});
    ones_row.fill(1.0f);
    ones_col.fill(1.0f);
    CAPTURE(n);
    CHECK(precision::matmul(ones_row, ones_col, {format::bf16, format::bf16})(0, 0) == 256.0f);
    CHECK(precision::matmul(ones_row, ones_col, {format::fp16, format::fp16})(0, 0) ==
          float(std::min<std::size_t>(n, 2048)));
    CHECK(precision::matmul(ones_row, ones_col, {format::bf16, format::fp32})(0, 0) == float(n));
  }
}

TEST_CASE("attention: fp32 matches the double reference; fp16 and bf16 storage within a few u") {
  rng gen(4);
  const auto q = random_normal<3>({2, 40, 16}, gen);
  const auto k = random_normal<3>({2, 40, 16}, gen);
  const auto v = random_normal<3>({2, 40, 16}, gen);
  for (const bool causal : {false, true}) {
    CAPTURE(causal);
    const auto expected = testing::reference_attention(q, k, v, causal);
    precision::attention_options o;
    o.causal = causal;
    CHECK(testing::max_abs_diff(precision::attention(q, k, v, o), expected) <= 1e-5);
    for (const format f : {format::fp16, format::bf16}) {
      CAPTURE(precision::format_name(f));
      o.how = {f, format::fp32};
      // Inputs, logits and probabilities each carry u; outputs are O(1): a few u
      // of absolute error (8 u measured margin, not a proof).
      CHECK(testing::max_abs_diff(precision::attention(q, k, v, o), expected) <=
            8 * precision::unit_roundoff(f));
    }
  }
}

TEST_CASE("fp16 logits past 65504 are inf and the output NaN; scaling Q first keeps them finite") {
  // q = k = 40 everywhere, head_dim 64: q·k = 64 · 1600 = 102400, stored in fp16
  // as inf; the row max is inf and inf - inf = NaN. (Q / 8) K: 64 · 5 · 40 = 12800
  // is fine. Every logit is equal: softmax is uniform and O is the mean of v.
  const std::size_t seq = 6, d = 64;
  tensor<3> q = tensor<3>::from_shape({1, seq, d});
  q.fill(40.0f);
  rng gen(5);
  const auto v = random_normal<3>({1, seq, d}, gen);
  precision::attention_options o;
  o.how = {format::fp16, format::fp32};
  const tensor<3> overflowed = precision::attention(q, q, v, o);
  for (const float x : overflowed) CHECK(std::isnan(x));
  o.scale_first = true;
  const tensor<3> scaled = precision::attention(q, q, v, o);
  o.scale_first = false;
  o.how = {format::bf16, format::fp32};
  const tensor<3> bf16_out = precision::attention(q, q, v, o);
  for (std::size_t c = 0; c < d; ++c) {
    double mean = 0;
    for (std::size_t j = 0; j < seq; ++j) mean += precision::round(format::fp16, v(0, j, c));
    mean /= seq;
    CAPTURE(c);
    CHECK(scaled(0, 0, c) == doctest::Approx(mean).epsilon(2e-3));
    CHECK(std::isfinite(bf16_out(0, 0, c)));
  }
}

TEST_CASE(
    "2-byte storage halves attention's bytes: the tracker's peak is attention_bytes exactly") {
  rng gen(6);
  const std::size_t heads = 2, seq = 48, d = 8;
  const auto q = random_normal<3>({heads, seq, d}, gen);
  for (const format f : {format::fp32, format::fp16, format::bf16}) {
    CAPTURE(precision::format_name(f));
    precision::attention_options o;
    o.how = {f, format::fp32};
    memory::peak_scope scope;
    const tensor<3> out = precision::attention(q, q, q, o);
    CHECK(scope.peak_bytes() ==
          precision::attention_bytes(heads, seq, d, f) + heads * seq * d * sizeof(float));
  }
  const std::size_t row = seq * sizeof(float);  // the fp32 row of exponentials
  CHECK(2 * (precision::attention_bytes(heads, seq, d, format::fp16) - row) ==
        precision::attention_bytes(heads, seq, d, format::fp32) - row);
}

TEST_CASE("run_precision: errors ordered as the formats' u, fp16 overflow named, bytes halved") {
  experiments::precision_config c;
  c.seq = 64;
  c.head_dim = 16;
  c.repeats = 1;
  const auto small = experiments::run_precision(c);
  REQUIRE(small.rows.size() == 6);
  const auto& fp32 = small.rows[0];
  const auto& bf16_mixed = small.rows[1];
  const auto& fp16_mixed = small.rows[2];
  CHECK(fp32.label == "fp32");
  CHECK(fp32.attention_relative < 1e-6);
  CHECK(fp16_mixed.attention_relative < bf16_mixed.attention_relative);
  CHECK(fp16_mixed.input_bytes * 2 == fp32.input_bytes);
  CHECK(small.rows[4].matmul_relative > 4 * bf16_mixed.matmul_relative);  // bf16 sums
  for (const auto& r : small.rows) CHECK(r.attention_nonfinite == 0);

  c.logit_scale = 6000;  // unscaled logits of std 6000 · sqrt(16) = 24000: the largest past 65520
  const auto large = experiments::run_precision(c);
  CHECK(large.max_abs_logit > 65520);
  CHECK(large.rows[2].attention_nonfinite > 0);  // fp16, scale after: inf logits, NaN rows
  CHECK(std::isnan(large.rows[2].attention_relative));
  CHECK(large.rows[3].attention_nonfinite == 0);  // fp16, scale first
  CHECK(large.rows[1].attention_nonfinite == 0);  // bf16 has fp32's range
}

TEST_CASE("run_rounding: the relative rounding error lies within ±u") {
  experiments::rounding_config c;
  c.values = 20000;
  c.bins = 20;
  const auto r = experiments::run_rounding(c);
  REQUIRE(r.formats.size() == 2);
  for (const auto& h : r.formats) {
    CAPTURE(h.format);
    double counted = 0;
    for (const double n : h.counts) counted += n;
    CHECK(counted + h.outside_normal_range == c.values);
    CHECK(h.max_error_in_u <= 1.0);
    CHECK(h.max_error_in_u > 0.9);
    CHECK(h.rms_error_in_u > 0.2);  // uniform on [-1, 1] in the mantissa: ~0.4 u
    CHECK(h.rms_error_in_u < 0.6);
  }
}

TEST_CASE("precision bad input names the argument") {
  CHECK_THROWS_WITH_AS(precision::parse_format("fp8"), "format = fp8: expected fp32, fp16 or bf16",
                       memlab::invalid_argument);
  auto a = tensor<2>::from_shape({2, 3});
  CHECK_THROWS_WITH_AS(precision::matmul(a, a, {format::fp16, format::bf16}),
                       "accumulate = bf16: expected fp32 or the storage format fp16",
                       memlab::invalid_argument);
  CHECK_THROWS_WITH_AS(precision::matmul(a, a, {}),
                       "b.shape = [2, 3]: expected [k, n] with k = 3 as in a.shape",
                       memlab::invalid_argument);
  experiments::precision_config c;
  c.logit_scale = -1;
  CHECK_THROWS_WITH_AS(experiments::run_precision(c),
                       "logit_scale = -1: expected a positive finite number",
                       memlab::invalid_argument);
}

TEST_CASE("bits: the stored value's encoding in each format") {
  CHECK(precision::bits(format::fp32, 1.0f) == 0x3F800000u);
  CHECK(precision::bits(format::fp16, 1.0f) == 0x3C00u);
  CHECK(precision::bits(format::bf16, 1.0f) == 0x3F80u);
  CHECK(precision::bits(format::fp16, 65520.0f) == 0x7C00u);     // inf
  CHECK(precision::bits(format::bf16, 1.00390625f) == 0x3F80u);  // 1 + 2^-8: the tie to even
}
