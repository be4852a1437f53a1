// Exercise 7 — int8 block quantization in the style of GGML's Q8_0.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "memlab_lab.hpp"

// 32 values share one scale: x ≈ scale · q, q an int8 in [-127, 127].
// (GGML stores the scale as fp16, 34 bytes a block; here it is a float: 36.)
constexpr std::size_t q8_block = 32;

struct block_q8_0 {
  float scale;
  std::int8_t q[q8_block];
};

// Bytes that n values take in Q8_0 (n a multiple of 32).
std::size_t q8_0_bytes(std::size_t n) {
  (void)n;
  return 0;  // TODO
}

// Quantizes x (x.size() a multiple of 32) into x.size() / 32 blocks. For each block:
//   absmax = max |x_i|,  scale = absmax / 127,  q_i = round(x_i / scale)
// round() halves away from zero (std::round / std::lround). The largest |x_i|
// maps to ±127 exactly. An all-zero block has scale 0 and q 0: no division by zero.
void quantize_q8_0(lab::span<const float> x, lab::span<block_q8_0> out) {
  // TODO
  (void)x, (void)out;
}

// x_i = scale · q_i, block after block (out.size() = 32 · blocks.size()).
void dequantize_q8_0(lab::span<const block_q8_0> blocks, lab::span<float> out) {
  // TODO
  (void)blocks, (void)out;
}
