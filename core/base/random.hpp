// base/random.hpp — a seeded generator that gives the same numbers everywhere.
//
// std::normal_distribution is implementation-defined (libstdc++ natively and
// libc++ in wasm give different streams), so core draws its own: splitmix64 for
// bits, Box–Muller for normals. Same seed, same tensor, native and in the browser.
#pragma once

#include <cstdint>

#include "base/memory.hpp"

namespace memlab {

class rng {
 public:
  explicit rng(std::uint64_t seed) : state_(seed) {}

  std::uint64_t next_u64();
  float uniform();  // in [0, 1)
  float normal();   // mean 0, standard deviation 1

 private:
  std::uint64_t state_;
  bool has_spare_ = false;
  float spare_ = 0.0f;
};

// A tensor of the given shape filled with normal(0, stddev) draws.
template <std::size_t N>
tensor<N> random_normal(const std::array<std::size_t, N>& shape, rng& gen, float stddev = 1.0f) {
  auto t = tensor<N>::from_shape(shape);
  for (float& x : t) x = stddev * gen.normal();
  return t;
}

}  // namespace memlab
