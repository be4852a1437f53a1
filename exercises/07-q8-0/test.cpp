// Exercise 7 — Q8_0 quantization: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

namespace {

// quantize_q8_0 into blocks first filled with garbage (scale NaN, q 99).
std::vector<block_q8_0> quantize(const std::vector<float>& x) {
  block_q8_0 garbage;
  garbage.scale = std::numeric_limits<float>::quiet_NaN();
  std::fill(std::begin(garbage.q), std::end(garbage.q), std::int8_t{99});
  std::vector<block_q8_0> blocks(x.size() / q8_block, garbage);
  quantize_q8_0(x, blocks);
  return blocks;
}

std::vector<float> dequantize(const std::vector<block_q8_0>& blocks) {
  std::vector<float> out(blocks.size() * q8_block, std::numeric_limits<float>::quiet_NaN());
  dequantize_q8_0(blocks, out);
  return out;
}

float absmax(const std::vector<float>& x, std::size_t block) {
  float m = 0;
  for (std::size_t i = 0; i < q8_block; ++i) m = std::max(m, std::fabs(x[block * q8_block + i]));
  return m;
}

}  // namespace

TEST_CASE("a hand-computed block: scale = absmax / 127, q = round(x / scale)") {
  // x_i = i - 16 for i = 0..31: -16 .. 15, absmax 16, scale 16/127, x / scale = 7.9375 x.
  std::vector<float> x;
  for (int i = 0; i < 32; ++i) x.push_back(static_cast<float>(i - 16));
  const std::vector<block_q8_0> b = quantize(x);
  if (!CHECK(b.size() == 1)) return;
  CHECK_MESSAGE(std::fabs(b[0].scale - 16.0f / 127) <= 1e-7f,
                "scale = " << lab::testing::number(b[0].scale)
                           << ", expected 16/127 = " << lab::testing::number(16.0f / 127));
  const struct {
    int i, q;  // x = i - 16; q = round(7.9375 (i - 16))
  } expected[] = {
      {0, -127},  // -16 · 7.9375 = -127: the absmax maps to -127 exactly
      {1, -119},  // -15 · 7.9375 = -119.0625
      {4, -95},   // -12 · 7.9375 = -95.25
      {16, 0},    // 0
      {17, 8},    // 7.9375
      {18, 16},   // 15.875
      {31, 119},  // 15 · 7.9375 = 119.0625
  };
  for (const auto& e : expected)
    CHECK_MESSAGE(b[0].q[e.i] == e.q, "q[" << e.i << "] (x = " << e.i - 16
                                           << ") = " << int{b[0].q[e.i]} << ", expected " << e.q);
}

TEST_CASE("rounding ties go away from zero: k + 1/2 rounds to k + 1, -k - 1/2 to -k - 1") {
  // absmax 127: scale = 127 / 127 = 1 exactly, so x / scale = x, and the halves
  // below are exact ties. std::lround (GGML's roundf) rounds them away from
  // zero; round-half-to-even (std::nearbyint, rint) and floor(x + 0.5) do not.
  const struct {
    float x;
    int q;
  } ties[] = {{0.5f, 1},   {1.5f, 2},   {2.5f, 3},     {-0.5f, -1},
              {-1.5f, -2}, {-2.5f, -3}, {126.5f, 127}, {-126.5f, -127}};
  std::vector<float> x(q8_block, 0.0f);
  x[0] = 127.0f;  // the absmax: scale 1
  for (std::size_t i = 0; i < 8; ++i) x[1 + i] = ties[i].x;
  const std::vector<block_q8_0> b = quantize(x);
  if (!CHECK(b.size() == 1)) return;
  CHECK_MESSAGE(b[0].scale == 1.0f,
                "scale = " << lab::testing::number(b[0].scale) << ", expected 127 / 127 = 1");
  for (std::size_t i = 0; i < 8; ++i)
    CHECK_MESSAGE(b[0].q[1 + i] == ties[i].q,
                  "q of x = " << lab::testing::number(ties[i].x) << " is " << int{b[0].q[1 + i]}
                              << ", expected " << ties[i].q << " (a tie rounds away from zero)");
}

TEST_CASE("an all-zero block has scale 0 and dequantizes to zeros (no division by zero)") {
  std::vector<float> x(64, 0.0f);
  for (std::size_t i = 32; i < 64; ++i) x[i] = 0.5f;  // a second, non-zero block
  const std::vector<block_q8_0> b = quantize(x);
  if (!CHECK(b.size() == 2)) return;
  CHECK_MESSAGE(b[0].scale == 0.0f,
                "scale of the zero block = " << lab::testing::number(b[0].scale) << ", expected 0");
  for (std::size_t i = 0; i < q8_block; ++i)
    if (!CHECK_MESSAGE(b[0].q[i] == 0,
                       "q[" << i << "] of the zero block = " << int{b[0].q[i]} << ", expected 0"))
      break;
  CHECK_CLOSE("dequantized", dequantize(b), x, 0.5f / 127 / 2);
}

TEST_CASE("dequantize: x = scale · q") {
  std::vector<block_q8_0> blocks(2);
  blocks[0].scale = 0.5f;
  blocks[1].scale = -2.0f;
  std::vector<float> expected;
  for (std::size_t b = 0; b < 2; ++b)
    for (std::size_t i = 0; i < q8_block; ++i) {
      blocks[b].q[i] = static_cast<std::int8_t>(static_cast<int>(i * 8) - 127);
      expected.push_back(blocks[b].scale * static_cast<float>(static_cast<int>(i * 8) - 127));
    }
  CHECK_CLOSE("x", dequantize(blocks), expected, 0.0);
}

TEST_CASE("round trip: every value within half a step of its block, the absmax exact") {
  // 64 blocks of normal values, one with an outlier of 1000: per-block scales
  // keep the other blocks' steps small (a single scale would make them 1000/127).
  lab::rng gen(9);
  std::vector<float> x(64 * q8_block);
  gen.fill_normal(x);
  x[5] = 1000.0f;
  const std::vector<block_q8_0> b = quantize(x);
  const std::vector<float> y = dequantize(b);
  if (!CHECK(y.size() == x.size())) return;
  for (std::size_t blk = 0; blk < b.size(); ++blk) {
    const float m = absmax(x, blk), step = m / 127;
    INFO("block " << blk << ", absmax " << m);
    if (!CHECK_MESSAGE(std::fabs(b[blk].scale - step) <= 1e-6f * step,
                       "scale = " << lab::testing::number(b[blk].scale) << ", expected "
                                  << lab::testing::number(step) << " = absmax / 127"))
      return;
    std::vector<float> xb(x.begin() + blk * q8_block, x.begin() + (blk + 1) * q8_block);
    std::vector<float> yb(y.begin() + blk * q8_block, y.begin() + (blk + 1) * q8_block);
    if (!CHECK_CLOSE("x", yb, xb, step / 2 * 1.0001f)) return;
    for (std::size_t i = 0; i < q8_block; ++i)
      if (std::fabs(xb[i]) == m)
        CHECK_MESSAGE(std::abs(int{b[blk].q[i]}) == 127,
                      "the absmax x[" << blk * q8_block + i << "] = " << xb[i]
                                      << " has q = " << int{b[blk].q[i]} << ", expected ±127");
  }
}

TEST_CASE("storage: 36 bytes per 32 values, 3.56x smaller than fp32") {
  const struct {
    std::size_t n, expected;
  } cases[] = {{32, 36}, {4096, 4608}, {4096 * 4096, 18874368}};
  for (const auto& c : cases)
    CHECK_MESSAGE(q8_0_bytes(c.n) == c.expected,
                  "q8_0_bytes(" << c.n << ") = " << q8_0_bytes(c.n) << ", expected " << c.expected
                                << " (" << c.n / 32 << " blocks of 36 bytes)");
}

// The page's chart once the tests pass: quantizing and dequantizing n values.
MEMLAB_BENCHMARK("quantize + dequantize Q8_0", "n", 4096, 65536, 1048576) {
  lab::rng gen(13);
  std::vector<float> x(n), y(n);
  gen.fill_normal(x);
  std::vector<block_q8_0> blocks(n / q8_block);
  lab::bench::report(n, lab::bench::measure([&] {
                       quantize_q8_0(x, blocks);
                       dequantize_q8_0(blocks, y);
                     }));
}
