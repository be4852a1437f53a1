// quant/affine.hpp — affine (integer) quantization of a weight matrix, and what all
// of memlab's quantization schemes share: input checks and error figures.
//
// A weight matrix W [rows, cols] (rows = output channels, cols = inputs, so that
// y = W x) is cut into groups that share one scale s (and, if asymmetric, one
// zero point z); each value becomes a b-bit integer code c:
//
//   symmetric  (absmax):  s = max|w| / (2^(b-1) - 1),   q = round(w / s) in [-qmax, qmax],
//                         c = q + 2^(b-1), z = 2^(b-1) (implicit, not stored)
//   asymmetric (min-max): lo = min(0, min w), hi = max(0, max w), s = (hi - lo) / (2^b - 1),
//                         z = round(-lo / s), c = clamp(round(w / s) + z, 0, 2^b - 1)
//   both:                 ŵ = s · (c - z),  and |w - ŵ| <= s / 2 (up to fp32 rounding)
//
// round() is half away from zero. Symmetric codes use 2^b - 1 of the 2^b levels so
// that +max and -max are both exact (bitsandbytes' absmax int8 does the same); the
// asymmetric range always holds 0, so zero weights (padding, pruned) stay exactly 0.
//
// Granularity: one group per tensor, per output channel (row), or per `group`
// consecutive values of a row (group must divide cols). Smaller groups track the
// local range (an outlier only inflates its own group's step) at the price of
// more scales: bits per weight = b + (32 + 8·asymmetric) / values per group.
//
// Storage (all tracked by memlab::memory::tracker()):
//   codes        [rows, row_bytes]  int8: one byte per value; int4: two per byte,
//                                   value 2i in the low nibble of byte i, 2i+1 in
//                                   the high one; each row starts on a byte
//   scales       [groups]           fp32
//   zero_points  [groups]           one byte each, asymmetric only
// Cost: quantize O(rows·cols) time, the storage above; dequantize O(rows·cols).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/memory.hpp"

namespace memlab::quant {

// ---- shared by every scheme -------------------------------------------------

// Throws memlab::invalid_argument unless w holds at least one value and every
// value is finite, naming the first bad one: "weights[3, 17] = nan: expected a
// finite value".
void check_weights(const tensor<2>& w, const char* name = "weights");
// The same for a vector: "x[5] = inf: expected a finite value".
void check_values(const float* x, std::size_t n, const char* name);
// Throws memlab::invalid_argument naming the first weight beyond `limit` in
// magnitude: what a format's own number types cannot hold (an fp16 scale past
// 65504 is inf, and every value of its block NaN). `why` says which.
void check_range(const tensor<2>& w, double limit, const char* why, const char* name = "weights");

// How far a restored matrix is from the original, computed in double.
struct error_figures {
  double max_abs = 0;        // max |w - ŵ|
  double rmse = 0;           // sqrt(mean (w - ŵ)²)
  double rel_frobenius = 0;  // ||W - Ŵ||_F / ||W||_F (0 if both are 0)
};
// original and restored must have the same shape. O(rows·cols).
error_figures measure_error(const tensor<2>& original, const tensor<2>& restored);

// ---- affine int8 / int4 -----------------------------------------------------

enum class granularity { tensor, channel, group };

// "tensor", "channel", "group"; parse_granularity throws on anything else.
const char* name(granularity g);
granularity parse_granularity(const std::string& text);

struct affine_format {
  int bits = 8;  // 8 or 4
  bool symmetric = true;
  granularity scope = granularity::channel;
  std::size_t group = 128;  // values per scale with granularity::group; divides cols
};

// Throws memlab::invalid_argument for bits not 8 or 4, a zero group, or a group
// that does not divide cols.
void check_format(const affine_format& f, std::size_t cols);

struct affine_matrix {
  std::size_t rows = 0;
  std::size_t cols = 0;
  affine_format format;
  std::size_t group_size = 0;        // values sharing a scale: rows·cols, cols or format.group
  std::size_t row_bytes = 0;         // cols (8-bit) or ceil(cols / 2) (4-bit)
  buffer<std::uint8_t> codes;        // [rows, row_bytes]
  buffer<float> scales;              // [groups]
  buffer<std::uint8_t> zero_points;  // [groups], empty when symmetric

  // Groups in one row: 0 for granularity::tensor (the row is part of one group).
  std::size_t groups_per_row() const {
    return format.scope == granularity::group ? cols / format.group
                                              : format.scope == granularity::channel;
  }
  // Index into scales of value (r, c).
  std::size_t group_of(std::size_t r, std::size_t c) const {
    return format.scope == granularity::tensor    ? 0
           : format.scope == granularity::channel ? r
                                                  : r * groups_per_row() + c / format.group;
  }
  // z; 2^(bits-1) when symmetric.
  int zero_point(std::size_t group) const {
    return format.symmetric ? 1 << (format.bits - 1) : zero_points[group];
  }
  std::uint8_t code(std::size_t r, std::size_t c) const {
    if (format.bits == 8) return codes[r * row_bytes + c];
    const std::uint8_t byte = codes[r * row_bytes + c / 2];
    return c % 2 ? byte >> 4 : byte & 0x0F;
  }
  float value(std::size_t r, std::size_t c) const;  // ŵ[r, c]
  std::size_t bytes() const;                        // codes + scales + zero points, exactly
  double bits_per_weight() const;                   // 8 · bytes() / (rows · cols)
};

// Quantizes w [rows, cols]. Throws on empty or non-finite input and bad formats.
affine_matrix quantize_affine(const tensor<2>& w, const affine_format& f);

// ŵ [rows, cols].
tensor<2> dequantize(const affine_matrix& m);

}  // namespace memlab::quant
