// Exercise 8 — NF4 quantization (QLoRA's 4-bit NormalFloat): a 16-value code
// book, one absmax per block of 64, two 4-bit indices per byte.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
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

// The index (0..15) of the code value nearest to v, for v in [-1, 1].
std::uint8_t nf4_index(float v) {
  // TODO
  (void)v;
  return 0;
}

// Bytes that n values take in NF4 (n a multiple of 64).
std::size_t nf4_bytes(std::size_t n) {
  (void)n;
  return 0;  // TODO
}

// Quantizes x (x.size() a multiple of 64) into x.size() / 64 blocks. For each
// block: absmax = max |x_i|; index_i = nf4_index(x_i / absmax), packed two per
// byte. An all-zero block has absmax 0 and every index that of 0.0 (7).
void quantize_nf4(lab::span<const float> x, lab::span<block_nf4> out) {
  // TODO
  (void)x, (void)out;
}

// x_i = absmax · nf4_code[index_i], block after block (out.size() = 64 · blocks.size()).
void dequantize_nf4(lab::span<const block_nf4> blocks, lab::span<float> out) {
  // TODO
  (void)blocks, (void)out;
}
