// quant/ggml_blocks.hpp — GGML's block formats Q8_0, Q4_0 and Q4_1, byte for byte.
//
// llama.cpp's classic formats cut every row into blocks of 32 values, each with
// its own fp16 scale, and store the blocks back to back. The layouts, and the
// reference quantizers below, follow ggml (ggml/src/ggml-common.h for the
// structs; ggml/src/ggml-quants.c, quantize_row_q8_0_ref / quantize_row_q4_0_ref /
// quantize_row_q4_1_ref and dequantize_row_*), so the bytes are the ones a GGUF
// file would hold. Little-endian, as on x86, ARM and wasm; `d` below is fp16 as
// converted by quant/fp16.hpp (= ggml_compute_fp32_to_fp16, round to nearest even).
//
//   Q8_0  34 bytes / 32 values = 8.5 bits per weight
//     bytes 0-1   d    fp16, d = amax / 127 (amax = max |x|)
//     bytes 2-33  qs   int8, qs[j] = roundf(x[j] / d)  in [-127, 127]
//     x̂[j] = d · qs[j]
//   Q4_0  18 bytes / 32 values = 4.5 bits per weight
//     bytes 0-1   d    fp16, d = max / -8, where max is the value of largest
//                      magnitude WITH its sign (the first one on ties)
//     bytes 2-17  qs   byte j = q[j] | q[j + 16] << 4: the low nibbles hold
//                      values 0..15, the high nibbles values 16..31;
//                      q = min(15, (int)(x / d + 8.5)) in [0, 15]
//     x̂[j] = d · (q[j] - 8)
//     The max maps to q = 0 exactly (x / d = -8); the other end, +8, is one
//     level short (q would be 16, clamped to 15), so a value of the opposite sign
//     and magnitude above 15/16 · amax loses up to a whole step d.
//   Q4_1  20 bytes / 32 values = 5 bits per weight
//     bytes 0-1   d    fp16, d = (max - min) / 15
//     bytes 2-3   m    fp16, m = min
//     bytes 4-19  qs   nibbles as in Q4_0, q = min(15, (int)((x - min) / d + 0.5))
//     x̂[j] = d · q[j] + m
//
// As in ggml, the codes are computed with the fp32 scale (x · (1/d)), the block
// keeps the fp16-rounded scale, and an all-zero block gets d = 0 and the codes
// of 0 (Q4_0: d = 0 / -8 = -0, fp16 0x8000, and q = 8, so bytes 00 80 88 .. 88). The rounding:
// roundf (half away from zero) for Q8_0, truncation after +8.5 / +0.5 for Q4_0 / Q4_1 (the same for
// non-negative arguments).
//
// A matrix [rows, cols] is rows · cols / 32 blocks, row after row (cols must be
// a multiple of 32), tracked by memlab::memory::tracker(): exactly
// rows · cols / 32 · sizeof(block) bytes. Quantize and dequantize: O(rows·cols).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/memory.hpp"
#include "quant/fp16.hpp"

namespace memlab::ggml {

constexpr std::size_t block_values = 32;  // QK8_0 = QK4_0 = QK4_1

struct block_q8_0 {
  fp16::half d;
  std::int8_t qs[block_values];
};
struct block_q4_0 {
  fp16::half d;
  std::uint8_t qs[block_values / 2];
};
struct block_q4_1 {
  fp16::half d;
  fp16::half m;
  std::uint8_t qs[block_values / 2];
};
static_assert(sizeof(block_q8_0) == 34, "block_q8_0 must be packed as in ggml");
static_assert(sizeof(block_q4_0) == 18, "block_q4_0 must be packed as in ggml");
static_assert(sizeof(block_q4_1) == 20, "block_q4_1 must be packed as in ggml");

// x [k] -> y [k / 32], k a multiple of 32 (the ggml reference quantizers).
void quantize_row_q8_0_ref(const float* x, block_q8_0* y, std::size_t k);
void quantize_row_q4_0_ref(const float* x, block_q4_0* y, std::size_t k);
void quantize_row_q4_1_ref(const float* x, block_q4_1* y, std::size_t k);
// x [k / 32] -> y [k].
void dequantize_row_q8_0(const block_q8_0* x, float* y, std::size_t k);
void dequantize_row_q4_0(const block_q4_0* x, float* y, std::size_t k);
void dequantize_row_q4_1(const block_q4_1* x, float* y, std::size_t k);

// A [rows, cols] matrix as rows · cols / 32 blocks of one format.
template <class Block>
struct block_matrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  buffer<Block> blocks;  // [rows, cols / 32]

  std::size_t blocks_per_row() const { return cols / block_values; }
  const Block* row(std::size_t r) const { return blocks.data() + r * blocks_per_row(); }
  std::size_t bytes() const { return blocks.size() * sizeof(Block); }
  double bits_per_weight() const { return 8.0 * sizeof(Block) / block_values; }
};

using q8_0_matrix = block_matrix<block_q8_0>;
using q4_0_matrix = block_matrix<block_q4_0>;
using q4_1_matrix = block_matrix<block_q4_1>;

// Quantize w [rows, cols]: throws memlab::invalid_argument on empty or non-finite
// input, or cols not a multiple of 32 ("cols = 100: expected a multiple of 32
// (the Q4_0 block)").
q8_0_matrix quantize_q8_0(const tensor<2>& w);
q4_0_matrix quantize_q4_0(const tensor<2>& w);
q4_1_matrix quantize_q4_1(const tensor<2>& w);

// ŵ [rows, cols].
tensor<2> dequantize(const q8_0_matrix& m);
tensor<2> dequantize(const q4_0_matrix& m);
tensor<2> dequantize(const q4_1_matrix& m);

}  // namespace memlab::ggml
