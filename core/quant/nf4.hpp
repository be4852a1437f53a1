// quant/nf4.hpp — 4-bit NormalFloat (NF4) with double quantization, as in QLoRA.
//
// NF4 (Dettmers et al. 2023, "QLoRA", §3; bitsandbytes quantize_4bit with
// quant_type="nf4") is a 4-bit code book built for normally distributed weights:
// its 16 values are quantiles of N(0, 1) rescaled to [-1, 1], with an exact 0,
// so every code is used about equally often on Gaussian data (an evenly spaced
// int4 grid spends most of its levels on the rare tails). Values are cut into
// blocks of `block` (64) consecutive values; each block keeps its absmax in fp32:
//
//   n = w · (1 / absmax)          in [-1, 1]
//   c = nearest code book entry   (4 bits; bitsandbytes' dQuantizeNF4 decision
//                                  tree: thresholds at the midpoints, ties down)
//                                  (the largest gap is the lowest one, -1 to -0.696:
//                                  7 negative codes against 8 positive ones)
//   ŵ = code[c] · absmax          |w - ŵ| <= absmax · (largest gap) / 2 = 0.152 absmax
//
// Two codes per byte, bitsandbytes' order: value 2i in the HIGH nibble of byte i,
// 2i+1 in the low one.
//
// Double quantization (QLoRA §3, bitsandbytes compress_statistics=True): the fp32
// absmax constants (32 bits per 64 weights = 0.5 bits per weight) are themselves
// quantized. Their mean is subtracted (offset), and the centred values are
// quantized blockwise, 256 per block, to 8 bits with bitsandbytes' signed dynamic
// code (create_dynamic_map: 8-bit "dynamic tree" floats, finer near 0), nearest
// code, each block of 256 keeping its own fp32 absmax. The weights' codes are
// computed with the exact absmax; dequantization uses the restored one.
//
//   bits per weight = 4 + 32/64                   = 4.5       without
//                   = 4 + 8/64 + 32/(64·256)      = 4.127     with double quantization
// (plus one fp32 offset per tensor, counted by bytes() but negligible). The two
// code books (16 and 256 floats) are constants, shared by every tensor, and not
// counted.
//
// Storage, all tracked: codes [rows·cols/2] bytes; absmax [blocks] fp32, or with
// double quantization absmax_codes [blocks] bytes + absmax_scales [ceil(blocks/256)]
// fp32 + offset [1] fp32. Blocks run along rows: block must be even and divide cols.
// Quantize O(rows·cols + blocks·log 256), dequantize O(rows·cols).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "base/memory.hpp"

namespace memlab::nf4 {

// The NF4 code book: bitsandbytes' get_4bit_type("nf4") constants (published in
// QLoRA, appendix E), ascending, code[7] == 0.
extern const std::array<float, 16> code;

// The 15 decision thresholds of bitsandbytes' dQuantizeNF4: the midpoints of
// neighbouring code values, to within one fp32 ulp.
const std::array<float, 15>& thresholds();

// The nearest code to a normalized value n: the number of thresholds below n.
std::uint8_t nearest_code(float n);

// bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
// 256 ascending values in [-1, 1] (0 and 1 included), decades 10^-6 .. 10^0 with
// more fraction steps in the larger ones.
const std::array<float, 256>& dynamic_map();
// Index of the nearest dynamic-map value to n (ties go up, as bitsandbytes' dQuantize).
std::uint8_t nearest_dynamic(float n);

constexpr std::size_t default_block = 64;
constexpr std::size_t absmax_block = 256;  // absmax values per double-quantization block

struct nf4_matrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  std::size_t block = default_block;
  bool double_quant = false;
  buffer<std::uint8_t> codes;         // [rows·cols/2], high nibble first
  buffer<float> absmax;               // [blocks] without double quantization
  buffer<std::uint8_t> absmax_codes;  // [blocks] with: dynamic-map codes of absmax - offset
  buffer<float> absmax_scales;        // [ceil(blocks/256)] with: absmax of each 256 block
  buffer<float> offset;               // [1] with: the mean of the absmax values

  std::size_t blocks() const { return rows * cols / block; }
  // The absmax dequantization uses for block b: exact, or restored from 8 bits.
  float block_absmax(std::size_t b) const;
  std::uint8_t code_at(std::size_t r, std::size_t c) const {
    const std::size_t i = r * cols + c;
    return i % 2 ? codes[i / 2] & 0x0F : codes[i / 2] >> 4;
  }
  std::size_t bytes() const;       // all of the above, exactly
  double bits_per_weight() const;  // 8 · bytes() / (rows · cols)
};

// Quantizes w [rows, cols]. Throws memlab::invalid_argument on empty or non-finite
// input and on a block that is odd or does not divide cols.
nf4_matrix quantize(const tensor<2>& w, std::size_t block = default_block,
                    bool double_quant = false);

// ŵ [rows, cols].
tensor<2> dequantize(const nf4_matrix& m);

// QLoRA's bits per parameter for large tensors (the offset left out):
// 4 + 32/block, or 4 + 8/block + 32/(block·256) with double quantization.
double qlora_bits_per_weight(std::size_t block, bool double_quant);

}  // namespace memlab::nf4
