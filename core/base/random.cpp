#include "base/random.hpp"

#include <cmath>

namespace memlab {

std::uint64_t rng::next_u64() {
  // splitmix64 (Steele, Lea, Flood 2014)
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

float rng::uniform() {
  return static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f);  // 24 random bits
}

float rng::normal() {
  if (has_spare_) {
    has_spare_ = false;
    return spare_;
  }
  // Box–Muller: two uniforms give two independent normals; u1 in (0, 1] avoids log(0).
  const double u1 = 1.0 - static_cast<double>(uniform());
  const double u2 = static_cast<double>(uniform());
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 6.283185307179586 * u2;
  spare_ = static_cast<float>(radius * std::sin(angle));
  has_spare_ = true;
  return static_cast<float>(radius * std::cos(angle));
}

}  // namespace memlab
