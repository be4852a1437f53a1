// fp16 conversion and ggml's Q8_0 / Q4_0 / Q4_1 blocks: bytes worked out by hand
// from ggml's algorithm (ggml-quants.c quantize_row_*_ref), an independent fp16
// reference in double precision, and round trips within each format's bound.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/random.hpp"
#include "quant/fp16.hpp"
#include "quant/ggml_blocks.hpp"

using namespace memlab;
using memlab::ggml::block_q4_0;
using memlab::ggml::block_q4_1;
using memlab::ggml::block_q8_0;

namespace {

// fp16 -> double straight from the IEEE definition.
double half_value(std::uint16_t h) {
  const int sign = h >> 15, e = (h >> 10) & 0x1F, m = h & 0x3FF;
  const double s = sign ? -1.0 : 1.0;
  if (e == 0) return s * std::ldexp(m, -24);
  if (e == 31) return m ? NAN : s * INFINITY;
  return s * std::ldexp(1024 + m, e - 25);
}

// fp32 -> fp16 in double: scale to the fp16 quantum of f's binade, round to
// nearest even with nearbyint (default rounding mode), re-encode.
std::uint16_t half_bits_reference(float f) {
  const std::uint16_t sign = std::signbit(f) ? 0x8000 : 0;
  if (std::isnan(f)) return sign | 0x7E00;
  const double a = std::fabs(static_cast<double>(f));
  if (a >= 65520.0) return sign | 0x7C00;  // at or beyond the midpoint to 2^16: inf
  int e = a > 0 ? static_cast<int>(std::floor(std::log2(a))) : -24;
  if (a > 0 && std::ldexp(1.0, e) > a) --e;  // guard log2 rounding
  if (a > 0 && std::ldexp(1.0, e + 1) <= a) ++e;
  const int quantum_exp = std::max(e, -14) - 10;
  const double units = std::nearbyint(std::ldexp(a, -quantum_exp));  // exact scaling
  const double value = std::ldexp(units, quantum_exp);
  if (value == 0) return sign;
  if (value < std::ldexp(1.0, -14)) return sign | static_cast<std::uint16_t>(units);  // subnormal
  int ve = static_cast<int>(std::floor(std::log2(value)));
  if (std::ldexp(1.0, ve) > value) --ve;
  const auto mantissa = static_cast<std::uint16_t>(std::ldexp(value, -ve) * 1024 - 1024);
  return sign | static_cast<std::uint16_t>((ve + 15) << 10) | mantissa;
}

template <class Block>
std::vector<std::uint8_t> bytes_of(const Block& b) {
  std::vector<std::uint8_t> out(sizeof b);
  std::memcpy(out.data(), &b, sizeof b);
  return out;
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (auto b : bytes) s += std::string(s.empty() ? "" : " ") + digits[b >> 4] + digits[b & 15];
  return s;
}

}  // namespace

TEST_CASE("fp16: hand-worked conversions, round to nearest even") {
  CHECK(fp16::from_float(1.0f) == 0x3C00);
  CHECK(fp16::from_float(-2.0f) == 0xC000);
  CHECK(fp16::from_float(0.5f) == 0x3800);
  CHECK(fp16::from_float(0.1f) == 0x2E66);  // 1.6 · 2^-4: mantissa 614.4 -> 614
  CHECK(fp16::from_float(-0.0f) == 0x8000);
  CHECK(fp16::from_float(65504.0f) == 0x7BFF);  // the largest fp16
  CHECK(fp16::from_float(65519.0f) == 0x7BFF);  // below the midpoint to 2^16
  CHECK(fp16::from_float(65520.0f) == 0x7C00);  // the midpoint: ties to even = inf
  CHECK(fp16::from_float(INFINITY) == 0x7C00);
  CHECK(fp16::from_float(NAN) == 0x7E00);
  CHECK(fp16::from_float(1.0f + 0x1p-11f) == 0x3C00);      // tie between 0x3C00 and 0x3C01: even
  CHECK(fp16::from_float(1.0f + 3 * 0x1p-11f) == 0x3C02);  // tie between 0x3C01 and 0x3C02: even
  CHECK(fp16::from_float(0x1p-24f) == 0x0001);             // the smallest subnormal
  CHECK(fp16::from_float(0x1p-25f) == 0x0000);             // tie with 0: even
  CHECK(fp16::from_float(1.5f * 0x1p-25f) == 0x0001);
  CHECK(fp16::from_float(0x1p-14f) == 0x0400);  // the smallest normal
  CHECK(fp16::to_float(0x3C00) == 1.0f);
  CHECK(fp16::to_float(0x0001) == 0x1p-24f);
  CHECK(fp16::to_float(0x7BFF) == 65504.0f);
  CHECK(std::isinf(fp16::to_float(0xFC00)));
  CHECK(std::isnan(fp16::to_float(0x7E00)));
}

TEST_CASE("fp16: every half survives a round trip and decodes as the IEEE definition says") {
  for (std::uint32_t h = 0; h < 65536; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const double expected = half_value(half);
    const float f = fp16::to_float(half);
    if (std::isnan(expected)) {
      REQUIRE(std::isnan(f));
      continue;
    }
    REQUIRE(static_cast<double>(f) == expected);
    REQUIRE(fp16::from_float(f) == half);
  }
}

TEST_CASE("fp16: from_float equals a double-precision reference, ties and subnormals included") {
  std::vector<float> probes;
  // Around every midpoint between neighbouring halves: the midpoint and one fp32 ulp either side.
  for (std::uint32_t h = 0; h < 0x7BFF; ++h) {
    const double mid = (half_value(static_cast<std::uint16_t>(h)) +
                        half_value(static_cast<std::uint16_t>(h + 1))) /
                       2;
    const float m = static_cast<float>(mid);  // exact: a midpoint has 12 significant bits
    probes.insert(probes.end(), {m, std::nextafter(m, 0.0f), std::nextafter(m, INFINITY), -m});
  }
  // A stride through all fp32 bit patterns.
  for (std::uint64_t bits = 0; bits < (1ull << 32); bits += 40009) {
    float f;
    const auto b = static_cast<std::uint32_t>(bits);
    std::memcpy(&f, &b, sizeof f);
    if (!std::isnan(f)) probes.push_back(f);
  }
  for (float f : probes) {
    CAPTURE(f);
    REQUIRE(fp16::from_float(f) == half_bits_reference(f));
  }
}

TEST_CASE("Q8_0: hand-worked blocks (roundf rounds halves away from zero)") {
  SUBCASE("amax 63.5: d = 0.5 exactly, codes round(2x)") {
    // x[j] = j - 16 + 0.25, so 2x = 2(j - 16) + 0.5, a tie: roundf goes away from
    // zero (j >= 16: 2(j-16) + 1; j < 16: 2(j-16)); x[31] = 63.5 gives amax and 127.
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j - 16) + 0.25f;
    x[31] = 63.5f;
    block_q8_0 b;
    ggml::quantize_row_q8_0_ref(x, &b, 32);
    std::vector<std::uint8_t> expected = {0x00, 0x38};  // fp16(0.5), little-endian
    for (int j = 0; j < 32; ++j) {
      const int q = j == 31 ? 127 : j >= 16 ? 2 * (j - 16) + 1 : 2 * (j - 16);
      expected.push_back(static_cast<std::uint8_t>(static_cast<std::int8_t>(q)));
    }
    CHECK(hex(bytes_of(b)) == hex(expected));
  }
  SUBCASE("one outlier takes the whole scale: everything else rounds to 0") {
    // amax 100: d = 100/127 = 0.78740156 -> fp16 mantissa (d/0.5 - 1)·1024 = 588.6 -> 589,
    // exponent -1 + 15 = 14: 0x3800 + 589 = 0x3A4D. The small values 0.01·j give
    // |x/d| <= 0.4 -> 0; the outlier gives 127.
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = 0.01f * static_cast<float>(j);
    x[20] = 100.0f;
    block_q8_0 b;
    ggml::quantize_row_q8_0_ref(x, &b, 32);
    std::vector<std::uint8_t> expected(34, 0);
    expected[0] = 0x4D;
    expected[1] = 0x3A;
    expected[2 + 20] = 127;
    CHECK(hex(bytes_of(b)) == hex(expected));
  }
  SUBCASE("an all-zero block is all zero bytes") {
    const float x[32] = {};
    block_q8_0 b;
    ggml::quantize_row_q8_0_ref(x, &b, 32);
    CHECK(hex(bytes_of(b)) == hex(std::vector<std::uint8_t>(34, 0)));
  }
}

TEST_CASE("Q4_0: hand-worked blocks, the sign of the max and the nibble order") {
  block_q4_0 b;
  SUBCASE("negative max magnitude: d = -4 / -8 = 0.5, q = j % 16, byte j = j | j << 4") {
    // x[j] = 0.5 · (j % 16 - 8): the first value of largest magnitude is x[0] = -4.
    // x / d = j % 16 - 8 exactly, q = (int)(x/d + 8.5) = j % 16. Byte j holds q[j]
    // (low nibble) and q[j + 16] (high nibble): 0x00, 0x11, ..., 0xff.
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = 0.5f * static_cast<float>(j % 16 - 8);
    ggml::quantize_row_q4_0_ref(x, &b, 32);
    std::vector<std::uint8_t> expected = {0x00, 0x38};
    for (int j = 0; j < 16; ++j) expected.push_back(static_cast<std::uint8_t>(0x11 * j));
    CHECK(hex(bytes_of(b)) == hex(expected));
    float back[32];
    ggml::dequantize_row_q4_0(&b, back, 32);
    for (int j = 0; j < 32; ++j) CHECK(back[j] == x[j]);
  }
  SUBCASE("positive max magnitude: d = 4 / -8 = -0.5 (fp16 0xb800), same codes") {
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = -0.5f * static_cast<float>(j % 16 - 8);
    ggml::quantize_row_q4_0_ref(x, &b, 32);
    std::vector<std::uint8_t> expected = {0x00, 0xB8};
    for (int j = 0; j < 16; ++j) expected.push_back(static_cast<std::uint8_t>(0x11 * j));
    CHECK(hex(bytes_of(b)) == hex(expected));
  }
  SUBCASE("the opposite end is one level short: +4 and -4 with +4 first -> -4 comes back as -3.5") {
    // d = 4 / -8 = -0.5; -4 / d = 8, + 8.5 = 16.5 -> 16 -> clamped to 15 -> (15 - 8) · -0.5.
    float x[32] = {};
    x[0] = 4.0f;
    x[1] = -4.0f;
    ggml::quantize_row_q4_0_ref(x, &b, 32);
    CHECK(b.qs[0] == (0x0 | 0x8 << 4));  // x[0] -> 0, x[16] = 0 -> 8
    CHECK(b.qs[1] == (0xF | 0x8 << 4));  // x[1] -> 15 (clamped), x[17] = 0 -> 8
    float back[32];
    ggml::dequantize_row_q4_0(&b, back, 32);
    CHECK(back[0] == 4.0f);
    CHECK(back[1] == -3.5f);
  }
  SUBCASE("one outlier: d = 100 / -8 = -12.5 (fp16 0xca40), the rest lands on q = 8") {
    // -12.5 = -1.5625 · 2^3: exponent 18 << 10 = 0x4800, mantissa 0.5625 · 1024 = 0x240.
    float x[32];
    for (int j = 0; j < 32; ++j) x[j] = 0.01f * static_cast<float>(j);
    x[20] = 100.0f;
    ggml::quantize_row_q4_0_ref(x, &b, 32);
    std::vector<std::uint8_t> expected = {0x40, 0xCA};
    for (int j = 0; j < 16; ++j)
      expected.push_back(j == 4 ? 0x08 : 0x88);  // x[20] is byte 4's high nibble: 0
    CHECK(hex(bytes_of(b)) == hex(expected));
  }
  SUBCASE("all zero: d = 0 / -8 = -0 (fp16 0x8000), q = 8 everywhere") {
    const float x[32] = {};
    ggml::quantize_row_q4_0_ref(x, &b, 32);
    std::vector<std::uint8_t> expected = {0x00, 0x80};
    expected.resize(18, 0x88);
    CHECK(hex(bytes_of(b)) == hex(expected));
  }
}

TEST_CASE("Q4_1: hand-worked blocks") {
  block_q4_1 b;
  SUBCASE("min -1, max 14: d = 1, m = -1, q = x + 1") {
    float x[32];
    for (int j = 0; j < 16; ++j) {
      x[j] = static_cast<float>(j - 1);        // q[j] = j
      x[j + 16] = static_cast<float>(14 - j);  // q[j + 16] = 15 - j
    }
    ggml::quantize_row_q4_1_ref(x, &b, 32);
    std::vector<std::uint8_t> expected = {0x00, 0x3C, 0x00, 0xBC};  // d = 1, m = -1
    for (int j = 0; j < 16; ++j) expected.push_back(static_cast<std::uint8_t>(j | (15 - j) << 4));
    CHECK(hex(bytes_of(b)) == hex(expected));
  }
  SUBCASE("all zero: 20 zero bytes") {
    const float x[32] = {};
    ggml::quantize_row_q4_1_ref(x, &b, 32);
    CHECK(hex(bytes_of(b)) == hex(std::vector<std::uint8_t>(20, 0)));
  }
}

TEST_CASE("ggml formats: random round trips stay within each block's bound") {
  // Per value, with d the fp32 scale and d' = fp16(d) the stored one:
  //   Q8_0: |x - x̂| <= |d|/2 + 127 |d - d'|
  //   Q4_0: |x - x̂| <= |d|/2 + 8 |d - d'|, or |d| + 8 |d - d'| for the clamped end
  //         (opposite sign to the max, |x| >= 15/16 amax)
  //   Q4_1: |x - x̂| <= d/2 + 15 |d - d'| + |m - m'|
  // plus fp32 rounding of the products (1e-6 relative).
  rng gen(11);
  const auto w = random_normal<2>({16, 256}, gen, 0.5f);
  const auto q8 = ggml::quantize_q8_0(w);
  const auto q4 = ggml::quantize_q4_0(w);
  const auto q41 = ggml::quantize_q4_1(w);
  const auto w8 = ggml::dequantize(q8), w4 = ggml::dequantize(q4), w41 = ggml::dequantize(q41);
  for (std::size_t blk = 0; blk < w.size() / 32; ++blk) {
    const float* x = w.data() + blk * 32;
    float amax = 0, max = 0, lo = x[0], hi = x[0];
    for (int j = 0; j < 32; ++j) {
      if (std::fabs(x[j]) > amax) amax = std::fabs(x[j]), max = x[j];
      lo = std::min(lo, x[j]);
      hi = std::max(hi, x[j]);
    }
    const double d8 = amax / 127.0f, d4 = max / -8.0f, d41 = (hi - lo) / 15.0f;
    const double e8 = std::fabs(d8 - fp16::round_trip(static_cast<float>(d8)));
    const double e4 = std::fabs(d4 - fp16::round_trip(static_cast<float>(d4)));
    const double e41 = std::fabs(d41 - fp16::round_trip(static_cast<float>(d41)));
    const double em = std::fabs(lo - fp16::round_trip(lo));
    for (int j = 0; j < 32; ++j) {
      const std::size_t i = blk * 32 + j;
      CAPTURE(i);
      const double v = x[j], slack = 1e-6 * std::fabs(v) + 1e-9;
      CHECK(std::fabs(v - w8.data()[i]) <= std::fabs(d8) / 2 + 127 * e8 + slack);
      const bool clamped_end = v * max < 0 && std::fabs(v) >= 15.0 / 16.0 * amax;
      CHECK(std::fabs(v - w4.data()[i]) <=
            (clamped_end ? 1.0 : 0.5) * std::fabs(d4) + 8 * e4 + slack);
      CHECK(std::fabs(v - w41.data()[i]) <= d41 / 2 + 15 * e41 + em + slack);
    }
  }
}

TEST_CASE("ggml formats: exact storage, in the tracker too") {
  rng gen(3);
  const auto w = random_normal<2>({10, 96}, gen);
  const std::size_t blocks = 10 * 96 / 32;
  memory::peak_scope scope;
  const auto live = [&] { return memory::tracker().live_bytes() - scope.start_live_bytes(); };
  {
    const auto m = ggml::quantize_q8_0(w);
    CHECK(m.bytes() == blocks * 34);
    CHECK(live() == blocks * 34);
    CHECK(m.bits_per_weight() == 8.5);
  }
  {
    const auto m = ggml::quantize_q4_0(w);
    CHECK(m.bytes() == blocks * 18);
    CHECK(live() == blocks * 18);
    CHECK(m.bits_per_weight() == 4.5);
  }
  {
    const auto m = ggml::quantize_q4_1(w);
    CHECK(m.bytes() == blocks * 20);
    CHECK(live() == blocks * 20);
    CHECK(m.bits_per_weight() == 5.0);
  }
}

TEST_CASE("ggml formats: bad input is named") {
  using memlab::invalid_argument;
  CHECK_THROWS_WITH_AS(ggml::quantize_q4_0(tensor<2>(std::array<std::size_t, 2>{2, 100}, 0.0f)),
                       "cols = 100: expected a multiple of 32 (the Q4_0 block)", invalid_argument);
  CHECK_THROWS_WITH_AS(ggml::quantize_q8_0(tensor<2>::from_shape({0, 32})),
                       "weights.shape = [0, 32]: expected at least one value", invalid_argument);
  tensor<2> w(std::array<std::size_t, 2>{2, 32}, 0.5f);
  w(1, 7) = NAN;
  CHECK_THROWS_WITH_AS(ggml::quantize_q4_1(w), "weights[1, 7] = nan: expected a finite value",
                       invalid_argument);
  w(1, 7) = -INFINITY;
  CHECK_THROWS_WITH_AS(ggml::quantize_q8_0(w), "weights[1, 7] = -inf: expected a finite value",
                       invalid_argument);
}
