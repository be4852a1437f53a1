// quant/fp16.hpp — IEEE 754 binary16 ("half", fp16) <-> fp32, bit-exact with GGML.
//
// GGML stores the scale of every Q8_0/Q4_0/Q4_1 block as fp16, so matching its
// bytes means matching its conversion. These are GGML's portable converters
// (ggml-impl.h, ggml_compute_fp32_to_fp16 / ggml_compute_fp16_to_fp32, after
// Maratyszcza's FP16 library), written with memcpy bit casts:
//
//   from_float(f): round to nearest, ties to even; overflow to ±inf (anything
//     >= 65520 in magnitude); below 2^-14 to subnormals, below 2^-25 to ±0; NaN to
//     0x7E00 with the sign. GGML's F16C path (_cvtss_sh(x, 0)) and the hardware
//     of every platform give the same bits: round-to-nearest-even is the IEEE
//     default. The trick: scaling |f| by 2^112 then 2^-110 rounds it at the fp16
//     precision in fp32 arithmetic (the FPU does the rounding); adding a power of
//     two `bias` aligns the 10 kept mantissa bits at the bottom of the fp32 word.
//   to_float(h): exact (every fp16 is an fp32). Normals by shifting the exponent
//     and mantissa into place and rescaling by 2^-112; subnormals by the
//     "magic number" subtraction (0.5 + m·2^-24) - 0.5.
//
// Both are branch-free except for one select, inline, O(1); loops over them
// vectorize.
//
// fp16_matrix: a weight matrix stored as fp16, the usual storage of LLM weights
// and the baseline that quantization is measured against (16 bits per weight).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/memory.hpp"
#include "quant/affine.hpp"

namespace memlab::fp16 {

using half = std::uint16_t;  // the 16 bits of an IEEE binary16 value

inline std::uint32_t bits_of(float f) {
  std::uint32_t w;
  std::memcpy(&w, &f, sizeof w);
  return w;
}

inline float float_of(std::uint32_t w) {
  float f;
  std::memcpy(&f, &w, sizeof f);
  return f;
}

// fp32 -> fp16, round to nearest even (ggml_compute_fp32_to_fp16).
inline half from_float(float f) {
  const float scale_to_inf = 0x1.0p+112f;
  const float scale_to_zero = 0x1.0p-110f;
  float base = (std::fabs(f) * scale_to_inf) * scale_to_zero;

  const std::uint32_t w = bits_of(f);
  const std::uint32_t shl1_w = w + w;
  const std::uint32_t sign = w & 0x80000000u;
  std::uint32_t bias = shl1_w & 0xFF000000u;
  if (bias < 0x71000000u) bias = 0x71000000u;

  base = float_of((bias >> 1) + 0x07800000u) + base;
  const std::uint32_t bits = bits_of(base);
  const std::uint32_t exp_bits = (bits >> 13) & 0x00007C00u;
  const std::uint32_t mantissa_bits = bits & 0x00000FFFu;
  const std::uint32_t nonsign = exp_bits + mantissa_bits;
  return static_cast<half>((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

// fp16 -> fp32, exact (ggml_compute_fp16_to_fp32).
inline float to_float(half h) {
  const std::uint32_t w = static_cast<std::uint32_t>(h) << 16;
  const std::uint32_t sign = w & 0x80000000u;
  const std::uint32_t two_w = w + w;

  const std::uint32_t exp_offset = 0xE0u << 23;
  const float normalized = float_of((two_w >> 4) + exp_offset) * 0x1.0p-112f;

  const std::uint32_t magic_mask = 126u << 23;
  const float denormalized = float_of((two_w >> 17) | magic_mask) - 0.5f;

  const std::uint32_t denormalized_cutoff = 1u << 27;
  return float_of(sign |
                  (two_w < denormalized_cutoff ? bits_of(denormalized) : bits_of(normalized)));
}

// from_float then to_float: the fp32 value an fp16 store keeps.
inline float round_trip(float f) { return to_float(from_float(f)); }

// W [rows, cols] as fp16, row-major, tracked: exactly 2 · rows · cols bytes.
struct fp16_matrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  buffer<half> values;  // [rows, cols]

  std::size_t bytes() const { return values.size() * sizeof(half); }
  double bits_per_weight() const { return 16; }
};

// Throws memlab::invalid_argument on empty or non-finite input, and on a value
// beyond 65504, fp16's largest (a plain fp16 cast would make it ±inf). O(rows·cols).
inline fp16_matrix quantize(const tensor<2>& w) {
  quant::check_weights(w);
  quant::check_range(w, 65504, "fp16's largest value");
  fp16_matrix m;
  m.rows = w.shape(0);
  m.cols = w.shape(1);
  m.values.resize(w.size());
  for (std::size_t i = 0; i < w.size(); ++i) m.values[i] = from_float(w.data()[i]);
  return m;
}

inline tensor<2> dequantize(const fp16_matrix& m) {
  auto out = tensor<2>::from_shape({m.rows, m.cols});
  for (std::size_t i = 0; i < out.size(); ++i) out.data()[i] = to_float(m.values[i]);
  return out;
}

}  // namespace memlab::fp16
