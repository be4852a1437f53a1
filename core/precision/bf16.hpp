// precision/bf16.hpp — bfloat16 ("brain float", bf16) <-> fp32.
//
// bf16 is the top half of an fp32: 1 sign bit, the same 8 exponent bits (so the
// same range, up to 3.39e38, subnormals down to 9.2e-41), and 7 stored mantissa
// bits (8 significant bits with the implicit one: a relative step of 2^-7, unit
// roundoff u = 2^-8). fp16 keeps 10 mantissa bits (u = 2^-11) but only 5 exponent
// bits: it overflows past 65504. bf16 trades precision for fp32's range, so
// models trained in fp32 run in bf16 without loss scaling.
//
//   from_float(f): round to nearest, ties to even, on the 16 dropped bits — the
//     "+ 0x7FFF + lsb" trick of ggml's ggml_compute_fp32_to_bf16 and PyTorch's
//     c10::bf16 round_to_nearest_even: adding 0x7FFF carries into the kept half
//     exactly when the dropped half is above 0x8000, and adding the kept half's
//     last bit breaks the tie at 0x8000 towards an even result. It carries through
//     the exponent too: a value rounding past the largest bf16 becomes ±inf, a
//     subnormal rounding up becomes the smallest normal. Subnormals are kept (not
//     flushed), as in both references' portable code.
//     NaN: the trick would carry a NaN whose payload sits in the low half into
//     ±inf or the next exponent, so a NaN is handled first and kept quiet: the top
//     half of its bits with the quiet bit (0x0040) set — ggml's (u >> 16) | 64,
//     which keeps the sign and the top of the payload; PyTorch returns the one
//     canonical 0x7FC0 instead. Either way a NaN stays a NaN.
//   to_float(h): exact (h << 16).
//
// Both O(1), branch-free but for the NaN select, inline.
#pragma once

#include <cstdint>

#include "quant/fp16.hpp"  // bits_of, float_of

namespace memlab::bf16 {

using half = std::uint16_t;  // the 16 bits of a bfloat16 value

// fp32 -> bf16, round to nearest even; NaN kept quiet (ggml_compute_fp32_to_bf16).
inline half from_float(float f) {
  const std::uint32_t u = fp16::bits_of(f);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<half>((u >> 16) | 0x0040u);
  return static_cast<half>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

// bf16 -> fp32, exact.
inline float to_float(half h) { return fp16::float_of(static_cast<std::uint32_t>(h) << 16); }

// from_float then to_float: the fp32 value a bf16 store keeps.
inline float round_trip(float f) { return to_float(from_float(f)); }

}  // namespace memlab::bf16
