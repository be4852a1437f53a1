// base/dense.hpp — plain dense products the hand-written backward passes share
// (internal header). Straight loops: the training lessons favour clarity.
#pragma once

#include <cmath>
#include <cstddef>

#include "base/kernels.hpp"
#include "base/memory.hpp"

namespace memlab::dense {

// The three products on raw row-major pointers (a segment of rows of a bigger
// buffer, as an MoE expert's rows); the tensor forms below call them.

// C [r, c] += A [r, k] · B [k, c]; r·k·c multiply-adds.
inline void add_a_b(const float* a, std::size_t r, std::size_t k, const float* b, std::size_t c,
                    float* out) {
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      const float x = a[i * k + j];
      const float* bj = b + j * c;
      float* oi = out + i * c;
      for (std::size_t t = 0; t < c; ++t) oi[t] += x * bj[t];
    }
}

// C [r, c] += A [k, r]ᵀ · B [k, c] (weight gradients: inputᵀ · output gradient)
inline void add_at_b(const float* a, std::size_t k, std::size_t r, const float* b, std::size_t c,
                     float* out) {
  for (std::size_t j = 0; j < k; ++j)
    for (std::size_t i = 0; i < r; ++i) {
      const float x = a[j * r + i];
      const float* bj = b + j * c;
      float* oi = out + i * c;
      for (std::size_t t = 0; t < c; ++t) oi[t] += x * bj[t];
    }
}

// C [r, c] += A [r, k] · B [c, k]ᵀ (input gradients: output gradient · Wᵀ), row
// by row dot products (kernels::dot keeps lane-wise partial sums, so it vectorizes)
inline void add_a_bt(const float* a, std::size_t r, std::size_t k, const float* b, std::size_t c,
                     float* out) {
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t t = 0; t < c; ++t) out[i * c + t] += kernels::dot(a + i * k, b + t * k, k);
}

// C [r, c] = A [r, k] · B [k, c]
inline tensor<2> matmul(const tensor<2>& a, const tensor<2>& b) {
  tensor<2> out = xt::zeros<float>({a.shape(0), b.shape(1)});
  add_a_b(a.data(), a.shape(0), a.shape(1), b.data(), b.shape(1), out.data());
  return out;
}

inline void add_at_b(const tensor<2>& a, const tensor<2>& b, tensor<2>& out) {
  add_at_b(a.data(), a.shape(0), a.shape(1), b.data(), b.shape(1), out.data());
}

inline void add_a_bt(const tensor<2>& a, const tensor<2>& b, tensor<2>& out) {
  add_a_bt(a.data(), a.shape(0), a.shape(1), b.data(), b.shape(0), out.data());
}

// GELU in GPT-2's tanh form, through std::tanh (training is not a hot path),
// and its derivative.
constexpr float gelu_c = 0.7978845608028654f;  // sqrt(2 / pi)

inline float gelu(float x) {
  return 0.5f * x * (1.0f + std::tanh(gelu_c * (x + 0.044715f * x * x * x)));
}

inline float gelu_grad(float x) {
  const float t = std::tanh(gelu_c * (x + 0.044715f * x * x * x));
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * gelu_c * (1.0f + 3 * 0.044715f * x * x);
}

}  // namespace memlab::dense
