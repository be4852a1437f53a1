// The reference quantizers are ggml's (ggml/src/ggml-quants.c: quantize_row_q8_0_ref,
// quantize_row_q4_0_ref, quantize_row_q4_1_ref, dequantize_row_*), statement for
// statement, so that the bytes agree; only the types and names are memlab's.
#include "quant/ggml_blocks.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <string>
#include <type_traits>

#include "base/error.hpp"
#include "quant/affine.hpp"

namespace memlab::ggml {
namespace {

constexpr std::size_t qk = block_values;

template <class Block>
const char* format_name();
template <>
const char* format_name<block_q8_0>() {
  return "Q8_0";
}
template <>
const char* format_name<block_q4_0>() {
  return "Q4_0";
}
template <>
const char* format_name<block_q4_1>() {
  return "Q4_1";
}

void quantize_rows(const float* x, block_q8_0* y, std::size_t k) { quantize_row_q8_0_ref(x, y, k); }
void quantize_rows(const float* x, block_q4_0* y, std::size_t k) { quantize_row_q4_0_ref(x, y, k); }
void quantize_rows(const float* x, block_q4_1* y, std::size_t k) { quantize_row_q4_1_ref(x, y, k); }
void dequantize_rows(const block_q8_0* x, float* y, std::size_t k) { dequantize_row_q8_0(x, y, k); }
void dequantize_rows(const block_q4_0* x, float* y, std::size_t k) { dequantize_row_q4_0(x, y, k); }
void dequantize_rows(const block_q4_1* x, float* y, std::size_t k) { dequantize_row_q4_1(x, y, k); }

// The largest weight a block format holds: its fp16 scale d (Q8_0: amax / 127,
// Q4_0: max / -8) or minimum (Q4_1) must stay within 65504.
template <class Block>
constexpr double max_weight() {
  if constexpr (std::is_same_v<Block, block_q8_0>) return 65504.0 * 127;
  if constexpr (std::is_same_v<Block, block_q4_0>) return 65504.0 * 8;
  return 65504.0;
}
template <class Block>
const char* range_reason() {
  if constexpr (std::is_same_v<Block, block_q8_0>) return "a Q8_0 scale, amax / 127, is fp16";
  if constexpr (std::is_same_v<Block, block_q4_0>) return "a Q4_0 scale, max / 8, is fp16";
  return "a Q4_1 block's minimum is fp16";
}

template <class Block>
block_matrix<Block> quantize(const tensor<2>& w) {
  // The shape first: it is cheaper to check than every value, and says more.
  require(w.shape(1) % qk == 0, "cols", w.shape(1),
          std::string("a multiple of 32 (the ") + format_name<Block>() + " block)");
  quant::check_weights(w);
  quant::check_range(w, max_weight<Block>(), range_reason<Block>());
  block_matrix<Block> m;
  m.rows = w.shape(0);
  m.cols = w.shape(1);
  m.blocks.resize(m.rows * m.blocks_per_row());
  // Rows are contiguous and whole blocks, so the matrix is one long row of blocks.
  quantize_rows(w.data(), m.blocks.data(), m.rows * m.cols);
  return m;
}

template <class Block>
tensor<2> dequantize_matrix(const block_matrix<Block>& m) {
  auto out = tensor<2>::from_shape({m.rows, m.cols});
  dequantize_rows(m.blocks.data(), out.data(), m.rows * m.cols);
  return out;
}

}  // namespace

void quantize_row_q8_0_ref(const float* x, block_q8_0* y, std::size_t k) {
  const std::size_t nb = k / qk;
  for (std::size_t i = 0; i < nb; i++) {
    float amax = 0.0f;  // absolute max
    for (std::size_t j = 0; j < qk; j++) amax = std::max(amax, std::fabs(x[i * qk + j]));

    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp16::from_float(d);
    for (std::size_t j = 0; j < qk; ++j)
      y[i].qs[j] = static_cast<std::int8_t>(std::round(x[i * qk + j] * id));
  }
}

void quantize_row_q4_0_ref(const float* x, block_q4_0* y, std::size_t k) {
  const std::size_t nb = k / qk;
  for (std::size_t i = 0; i < nb; i++) {
    float amax = 0.0f;  // absolute max
    float max = 0.0f;   // the value of largest magnitude, with its sign
    for (std::size_t j = 0; j < qk; j++) {
      const float v = x[i * qk + j];
      if (amax < std::fabs(v)) {
        amax = std::fabs(v);
        max = v;
      }
    }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp16::from_float(d);
    for (std::size_t j = 0; j < qk / 2; ++j) {
      const float x0 = x[i * qk + 0 + j] * id;
      const float x1 = x[i * qk + qk / 2 + j] * id;
      const std::uint8_t xi0 = static_cast<std::uint8_t>(
          std::min(15, static_cast<int>(static_cast<std::int8_t>(x0 + 8.5f))));
      const std::uint8_t xi1 = static_cast<std::uint8_t>(
          std::min(15, static_cast<int>(static_cast<std::int8_t>(x1 + 8.5f))));
      y[i].qs[j] = static_cast<std::uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

void quantize_row_q4_1_ref(const float* x, block_q4_1* y, std::size_t k) {
  const std::size_t nb = k / qk;
  for (std::size_t i = 0; i < nb; i++) {
    float min = FLT_MAX;
    float max = -FLT_MAX;
    for (std::size_t j = 0; j < qk; j++) {
      const float v = x[i * qk + j];
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = fp16::from_float(d);
    y[i].m = fp16::from_float(min);
    for (std::size_t j = 0; j < qk / 2; ++j) {
      const float x0 = (x[i * qk + 0 + j] - min) * id;
      const float x1 = (x[i * qk + qk / 2 + j] - min) * id;
      const std::uint8_t xi0 = static_cast<std::uint8_t>(
          std::min(15, static_cast<int>(static_cast<std::int8_t>(x0 + 0.5f))));
      const std::uint8_t xi1 = static_cast<std::uint8_t>(
          std::min(15, static_cast<int>(static_cast<std::int8_t>(x1 + 0.5f))));
      y[i].qs[j] = static_cast<std::uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

void dequantize_row_q8_0(const block_q8_0* x, float* y, std::size_t k) {
  const std::size_t nb = k / qk;
  for (std::size_t i = 0; i < nb; i++) {
    const float d = fp16::to_float(x[i].d);
    for (std::size_t j = 0; j < qk; ++j) y[i * qk + j] = x[i].qs[j] * d;
  }
}

void dequantize_row_q4_0(const block_q4_0* x, float* y, std::size_t k) {
  const std::size_t nb = k / qk;
  for (std::size_t i = 0; i < nb; i++) {
    const float d = fp16::to_float(x[i].d);
    for (std::size_t j = 0; j < qk / 2; ++j) {
      const int x0 = (x[i].qs[j] & 0x0F) - 8;
      const int x1 = (x[i].qs[j] >> 4) - 8;
      y[i * qk + j + 0] = x0 * d;
      y[i * qk + j + qk / 2] = x1 * d;
    }
  }
}

void dequantize_row_q4_1(const block_q4_1* x, float* y, std::size_t k) {
  const std::size_t nb = k / qk;
  for (std::size_t i = 0; i < nb; i++) {
    const float d = fp16::to_float(x[i].d);
    const float m = fp16::to_float(x[i].m);
    for (std::size_t j = 0; j < qk / 2; ++j) {
      const int x0 = x[i].qs[j] & 0x0F;
      const int x1 = x[i].qs[j] >> 4;
      y[i * qk + j + 0] = x0 * d + m;
      y[i * qk + j + qk / 2] = x1 * d + m;
    }
  }
}

q8_0_matrix quantize_q8_0(const tensor<2>& w) { return quantize<block_q8_0>(w); }
q4_0_matrix quantize_q4_0(const tensor<2>& w) { return quantize<block_q4_0>(w); }
q4_1_matrix quantize_q4_1(const tensor<2>& w) { return quantize<block_q4_1>(w); }

tensor<2> dequantize(const q8_0_matrix& m) { return dequantize_matrix(m); }
tensor<2> dequantize(const q4_0_matrix& m) { return dequantize_matrix(m); }
tensor<2> dequantize(const q4_1_matrix& m) { return dequantize_matrix(m); }

}  // namespace memlab::ggml
