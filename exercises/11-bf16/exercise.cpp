// Exercise 11 — bfloat16: round to nearest even, and dot products stored in bf16.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
#include <cstdint>
#include <cstring>

#include "memlab_lab.hpp"

using bf16 = std::uint16_t;  // the 16 bits of a bfloat16 value

// The 32 bits of a float, and the float of 32 bits (memcpy: the defined way).
inline std::uint32_t bits_of(float x) {
  std::uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline float float_of(std::uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// bf16 -> float, exact: the bf16's bits are the top half of the float's.
float bf16_to_float(bf16 h) {
  (void)h;
  return 0.0f;  // TODO
}

// float -> bf16: round to nearest, ties to even, on the 16 dropped bits. A NaN
// stays a NaN: its top 16 bits with the quiet bit 0x0040 set.
bf16 float_to_bf16(float x) {
  (void)x;
  return 0;  // TODO
}

// Σ a[i] · b[i] of two bf16 vectors of the same length: each product and the
// sum in float (what bf16 hardware does: bf16 inputs, fp32 accumulation).
float dot_bf16(lab::span<const bf16> a, lab::span<const bf16> b) {
  (void)a, (void)b;
  return 0.0f;  // TODO
}

// The same, but every product and every partial sum rounded to bf16, as a
// bf16 accumulator would keep them.
float dot_bf16_accumulate_bf16(lab::span<const bf16> a, lab::span<const bf16> b) {
  (void)a, (void)b;
  return 0.0f;  // TODO
}
