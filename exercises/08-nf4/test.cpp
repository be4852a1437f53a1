// Exercise 8 — NF4 quantization: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

namespace {

using lab::testing::hex;
using lab::testing::number;

// The published code book, copied independently of the exercise's.
// clang-format off
const double code[16] = {
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0};
// clang-format on

// quantize_nf4 into blocks first filled with garbage (absmax NaN, bytes 0xAB).
std::vector<block_nf4> quantize(const std::vector<float>& x) {
  block_nf4 garbage;
  garbage.absmax = std::numeric_limits<float>::quiet_NaN();
  std::fill(std::begin(garbage.packed), std::end(garbage.packed), std::uint8_t{0xAB});
  std::vector<block_nf4> blocks(x.size() / nf4_block, garbage);
  quantize_nf4(x, blocks);
  return blocks;
}

std::vector<float> dequantize(const std::vector<block_nf4>& blocks) {
  std::vector<float> out(blocks.size() * nf4_block, std::numeric_limits<float>::quiet_NaN());
  dequantize_nf4(blocks, out);
  return out;
}

// Symmetric uniform 4-bit with the same absmax per block: 15 levels k/7 · absmax.
std::vector<float> uniform_int4_round_trip(const std::vector<float>& x) {
  std::vector<float> y(x.size());
  for (std::size_t b = 0; b < x.size() / nf4_block; ++b) {
    float m = 0;
    for (std::size_t i = 0; i < nf4_block; ++i) m = std::max(m, std::fabs(x[b * nf4_block + i]));
    for (std::size_t i = 0; i < nf4_block; ++i) {
      const float v = x[b * nf4_block + i];
      y[b * nf4_block + i] = m == 0 ? 0 : std::round(v / m * 7) / 7 * m;
    }
  }
  return y;
}

double rms(const std::vector<float>& a, const std::vector<float>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
  return std::sqrt(s / static_cast<double>(a.size()));
}

}  // namespace

TEST_CASE("nf4_index: code values map to themselves, values between to the nearest") {
  for (int i = 0; i < 16; ++i)
    CHECK_MESSAGE(nf4_index(static_cast<float>(code[i])) == i,
                  "nf4_index(" << number(static_cast<float>(code[i]))
                               << ") = " << int{nf4_index(static_cast<float>(code[i]))}
                               << ", expected " << i);
  const struct {
    float v;
    int expected;  // nearest code value, by hand
  } cases[] = {
      {0.03f, 7},   // 0 is 0.03 away, 0.0796 is 0.0496 away
      {0.05f, 8},   // 0.0796 is 0.0296 away
      {-0.6f, 2},   // -0.5251 is 0.0749 away, -0.6962 is 0.0962 away
      {0.5f, 12},   // 0.4407 is 0.0593 away, 0.5626 is 0.0626 away
      {0.85f, 14},  // 0.7230 is 0.127 away, 1.0 is 0.15 away
      {0.9f, 15},   // 1.0 is 0.1 away
      {-0.98f, 0},
  };
  for (const auto& c : cases)
    CHECK_MESSAGE(nf4_index(c.v) == c.expected,
                  "nf4_index(" << number(c.v) << ") = " << int{nf4_index(c.v)} << ", expected "
                               << c.expected << " (code value " << number(code[c.expected]) << ")");
  // Exact ties: halfway between 0 and its neighbours (the halves are exact in float,
  // and so are both distances). The first index whose midpoint is not below v wins:
  // the lower one, as bitsandbytes decides (x > 0.03979015 picks 8, else 7).
  const struct {
    float v;
    int expected;
  } ties[] = {
      {static_cast<float>(code[8]) / 2, 7},  // 0.03979015: 0 and 0.0796 are equally far
      {static_cast<float>(code[6]) / 2, 6},  // -0.04552502: -0.0911 and 0 are equally far
  };
  for (const auto& t : ties)
    CHECK_MESSAGE(
        nf4_index(t.v) == t.expected,
        "nf4_index(" << number(t.v) << ") = " << int{nf4_index(t.v)} << ", expected " << t.expected
                     << ": v is exactly halfway between code[" << t.expected << "] and code["
                     << t.expected + 1
                     << "], and a tie goes to the lower index (v not above the midpoint)");
}

TEST_CASE("a hand-computed block: absmax scaling and nibble packing") {
  // absmax 2: x / 2 = -1, 1, 0, 0.5, -0.25, 0.8, then zeros
  // indices     0, 15, 7,  12,     4,   14, then 7
  // bytes (value 2i low nibble, 2i + 1 high): 0xF0, 0xC7, 0xE4, then 0x77
  std::vector<float> x(nf4_block, 0.0f);
  x[0] = -2.0f, x[1] = 2.0f, x[2] = 0.0f, x[3] = 1.0f, x[4] = -0.5f, x[5] = 1.6f;
  const std::vector<block_nf4> b = quantize(x);
  if (!CHECK(b.size() == 1)) return;
  CHECK_MESSAGE(b[0].absmax == 2.0f, "absmax = " << number(b[0].absmax) << ", expected 2");
  for (std::size_t i = 0; i < nf4_block / 2; ++i) {
    const unsigned expected = i == 0 ? 0xF0 : i == 1 ? 0xC7 : i == 2 ? 0xE4 : 0x77;
    if (!CHECK_MESSAGE(b[0].packed[i] == expected,
                       "packed[" << i << "] = " << hex(b[0].packed[i]) << ", expected "
                                 << hex(expected) << " (low nibble: value " << 2 * i
                                 << ", high nibble: value " << 2 * i + 1 << ")"))
      break;
  }
}

TEST_CASE("dequantize: x = absmax · code[index]") {
  std::vector<block_nf4> blocks(1);
  blocks[0].absmax = 3.0f;
  std::vector<double> expected;
  for (std::size_t i = 0; i < nf4_block / 2; ++i) {
    const int lo = static_cast<int>(i % 16), hi = static_cast<int>((i * 7) % 16);
    blocks[0].packed[i] = static_cast<std::uint8_t>(lo | hi << 4);
    expected.push_back(3.0f * static_cast<float>(code[lo]));
    expected.push_back(3.0f * static_cast<float>(code[hi]));
  }
  CHECK_CLOSE("x", dequantize(blocks), expected, 0.0);
}

TEST_CASE("round trip on normal data: within half the widest code gap, better than int4") {
  // The widest gap of the code book is -0.6962 - (-1) = 0.3038: no value is
  // off by more than half of it, 0.1519 · absmax. On normal data NF4 places its
  // 16 values where the data is dense: its RMS error is about 0.85 of a uniform
  // 4-bit grid's (15 levels k/7 · absmax).
  lab::rng gen(12);
  std::vector<float> x(128 * nf4_block);
  gen.fill_normal(x);
  const std::vector<block_nf4> b = quantize(x);
  const std::vector<float> y = dequantize(b);
  if (!CHECK(y.size() == x.size())) return;
  for (std::size_t blk = 0; blk < b.size(); ++blk) {
    float m = 0;
    for (std::size_t i = 0; i < nf4_block; ++i) m = std::max(m, std::fabs(x[blk * nf4_block + i]));
    const std::vector<float> xb(x.begin() + blk * nf4_block, x.begin() + (blk + 1) * nf4_block);
    const std::vector<float> yb(y.begin() + blk * nf4_block, y.begin() + (blk + 1) * nf4_block);
    INFO("block " << blk << ", absmax " << m);
    if (!CHECK_MESSAGE(b[blk].absmax == m,
                       "absmax = " << number(b[blk].absmax) << ", expected " << number(m)))
      return;
    if (!CHECK_CLOSE("x", yb, xb, 0.152 * m)) return;
  }
  const double nf4 = rms(x, y), int4 = rms(x, uniform_int4_round_trip(x));
  CHECK_MESSAGE(nf4 < 0.97 * int4, "RMS error: NF4 "
                                       << nf4 << ", uniform int4 " << int4
                                       << "; expected NF4 below uniform int4 on normal data");
}

TEST_CASE("an all-zero block has absmax 0 and dequantizes to zeros (no division by zero)") {
  std::vector<float> x(2 * nf4_block, 0.0f);
  x[nf4_block] = 1.0f;  // a second, non-zero block
  const std::vector<block_nf4> b = quantize(x);
  if (!CHECK(b.size() == 2)) return;
  CHECK_MESSAGE(b[0].absmax == 0.0f,
                "absmax of the zero block = " << number(b[0].absmax) << ", expected 0");
  // every index that of 0.0 (7), two per byte: 0x77, not what x / 0 = NaN maps to
  for (std::size_t i = 0; i < nf4_block / 2; ++i)
    if (!CHECK_MESSAGE(b[0].packed[i] == 0x77,
                       "packed[" << i << "] of the zero block = " << hex(b[0].packed[i])
                                 << ", expected 0x77 (index 7, code 0, "
                                    "twice): was x / 0 = NaN quantized?"))
      break;
  CHECK_CLOSE("dequantized", dequantize(b), x, 0.0);
}

TEST_CASE("storage: 36 bytes per 64 values, 7.1x smaller than fp32") {
  const struct {
    std::size_t n, expected;
  } cases[] = {{64, 36}, {4096, 2304}, {4096 * 4096, 9437184}};
  for (const auto& c : cases)
    CHECK_MESSAGE(nf4_bytes(c.n) == c.expected,
                  "nf4_bytes(" << c.n << ") = " << nf4_bytes(c.n) << ", expected " << c.expected
                               << " (" << c.n / 64 << " blocks of 4 + 32 bytes)");
}

// The page's chart once the tests pass: quantizing and dequantizing n values.
MEMLAB_BENCHMARK("quantize + dequantize NF4", "n", 4096, 65536, 1048576) {
  lab::rng gen(14);
  std::vector<float> x(n), y(n);
  gen.fill_normal(x);
  std::vector<block_nf4> blocks(n / nf4_block);
  lab::bench::report(n, lab::bench::measure([&] {
                       quantize_nf4(x, blocks);
                       dequantize_nf4(blocks, y);
                     }));
}
