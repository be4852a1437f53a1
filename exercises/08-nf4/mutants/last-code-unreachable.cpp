// mutant: the search stops at i < 14: the code value 1.0 (index 15) is never chosen
// expect: nf4_index(1) = 14, expected 15

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "memlab_lab.hpp"

// The NF4 code book, as published with QLoRA (Dettmers et al. 2023) and used by
// bitsandbytes: quantiles of a standard normal scaled to [-1, 1], with an exact
// 0. Sorted.
// clang-format off
constexpr float nf4_code[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};
// clang-format on

constexpr std::size_t nf4_block = 64;

// 64 values: their absmax and 32 bytes of 4-bit code indices. Value 2i is the
// low nibble of packed[i], value 2i + 1 the high nibble.
struct block_nf4 {
  float absmax;
  std::uint8_t packed[nf4_block / 2];
};

std::uint8_t nf4_index(float v) {
  // the code book is sorted: the nearest value is the first whose midpoint with
  // the next one lies above v
  std::uint8_t i = 0;
  while (i < 14 && v > (nf4_code[i] + nf4_code[i + 1]) / 2) ++i;
  return i;
}

std::size_t nf4_bytes(std::size_t n) { return n / nf4_block * sizeof(block_nf4); }

void quantize_nf4(lab::span<const float> x, lab::span<block_nf4> out) {
  for (std::size_t b = 0; b < x.size() / nf4_block; ++b) {
    const lab::span<const float> xb = x.subspan(b * nf4_block, nf4_block);
    float absmax = 0;
    for (float v : xb) absmax = std::max(absmax, std::fabs(v));
    out[b].absmax = absmax;
    for (std::size_t i = 0; i < nf4_block; i += 2) {
      const std::uint8_t lo = nf4_index(absmax == 0 ? 0.0f : xb[i] / absmax);
      const std::uint8_t hi = nf4_index(absmax == 0 ? 0.0f : xb[i + 1] / absmax);
      out[b].packed[i / 2] = static_cast<std::uint8_t>(lo | hi << 4);
    }
  }
}

void dequantize_nf4(lab::span<const block_nf4> blocks, lab::span<float> out) {
  for (std::size_t b = 0; b < blocks.size(); ++b)
    for (std::size_t i = 0; i < nf4_block; ++i) {
      const std::uint8_t byte = blocks[b].packed[i / 2];
      const std::uint8_t index = i % 2 == 0 ? byte & 0x0F : byte >> 4;
      out[b * nf4_block + i] = blocks[b].absmax * nf4_code[index];
    }
}
