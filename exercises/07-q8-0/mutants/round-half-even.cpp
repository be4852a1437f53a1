// mutant: q = nearbyint(x / scale): the default rounding mode sends ties to even (0.5 -> 0, 2.5 ->
// 2), not away from zero
// expect: q of x = 0.5 is 0, expected 1
// expect: q of x = 2.5 is 2, expected 3

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "memlab_lab.hpp"

constexpr std::size_t q8_block = 32;

struct block_q8_0 {
  float scale;
  std::int8_t q[q8_block];
};

std::size_t q8_0_bytes(std::size_t n) { return n / q8_block * sizeof(block_q8_0); }

void quantize_q8_0(lab::span<const float> x, lab::span<block_q8_0> out) {
  for (std::size_t b = 0; b < x.size() / q8_block; ++b) {
    const lab::span<const float> xb = x.subspan(b * q8_block, q8_block);
    float absmax = 0;
    for (float v : xb) absmax = std::max(absmax, std::fabs(v));
    const float scale = absmax / 127;
    out[b].scale = scale;
    for (std::size_t i = 0; i < q8_block; ++i)
      out[b].q[i] = static_cast<std::int8_t>(scale == 0 ? 0 : std::nearbyint(xb[i] / scale));
  }
}

void dequantize_q8_0(lab::span<const block_q8_0> blocks, lab::span<float> out) {
  for (std::size_t b = 0; b < blocks.size(); ++b)
    for (std::size_t i = 0; i < q8_block; ++i)
      out[b * q8_block + i] = blocks[b].scale * blocks[b].q[i];
}
