// mutant: float_to_bf16 truncates (u >> 16) instead of rounding to nearest
// expect: above halfway rounds up (truncation gives 0x3F80)

#include <cstdint>
#include <cstring>

#include "memlab_lab.hpp"

using bf16 = std::uint16_t;

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

float bf16_to_float(bf16 h) { return float_of(static_cast<std::uint32_t>(h) << 16); }

bf16 float_to_bf16(float x) {
  const std::uint32_t u = bits_of(x);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<bf16>((u >> 16) | 0x0040u);  // NaN: quiet
  return static_cast<bf16>(u >> 16);
}

float dot_bf16(lab::span<const bf16> a, lab::span<const bf16> b) {
  float sum = 0.0f;
  for (std::size_t i = 0; i < a.size(); ++i) sum += bf16_to_float(a[i]) * bf16_to_float(b[i]);
  return sum;
}

float dot_bf16_accumulate_bf16(lab::span<const bf16> a, lab::span<const bf16> b) {
  auto round = [](float x) { return bf16_to_float(float_to_bf16(x)); };
  float sum = 0.0f;
  for (std::size_t i = 0; i < a.size(); ++i)
    sum = round(sum + round(bf16_to_float(a[i]) * bf16_to_float(b[i])));
  return sum;
}
