// precision/precision.hpp — fp32, fp16 and bf16 storage and arithmetic, emulated.
//
// A format keeps a value to p significant bits, so a store rounds it with a
// relative error of at most u = 2^-p (round to nearest even), inside the
// format's range:
//
//   format  bytes  p   u        largest finite   smallest normal
//   fp32    4      24  5.96e-8  3.40e38          1.18e-38
//   fp16    2      11  4.88e-4  65504            6.10e-5   (>= 65520 rounds to inf)
//   bf16    2      8   3.91e-3  3.39e38          1.18e-38
//
// Mixed precision as GPUs run it stores tensors in fp16/bf16 (half the bytes,
// twice the bandwidth) and accumulates dot products in fp32 (tensor cores,
// cuBLAS's default compute type). This file emulates both that and accumulation
// in the low format itself, on the CPU:
//
// * storage F: every stored value (inputs, and the outputs of each operation
//   that an eager framework materialises: scores S, probabilities P, output O)
//   is rounded to F and kept in 2 bytes (fp16/bf16) or 4 (fp32), tracked.
// * accumulation A (fp32 or F): a dot product s = Σ a_i b_i adds its products
//   one after another, rounding the product and each partial sum to A. With
//   A = F the sum stops growing once a term is below half a step of it: in bf16,
//   256 + 1 rounds back to 256 (257 is a tie, and 256 is even), so summing ones
//   stalls at 256. That is why nobody accumulates in the low format.
//   Each operation is computed in fp32 and rounded to F: the result is F's
//   correctly rounded one, because fp32's 24 bits are at least 2p + 2 for
//   p = 8 and 11 (double rounding is then innocuous for +, -, ×, /; Figueroa 1995).
//
// Error bounds (Higham, Accuracy and Stability, §3.1): for n terms summed in a
// format of unit roundoff u, |fl(Σ a_i b_i) - Σ a_i b_i| <= γ_n Σ |a_i b_i|,
// γ_n = n u / (1 - n u). Storing a and b in F first adds at most (2 u_F + u_F²) Σ|a_i b_i|.
// The tests check these bounds.
//
// attention() is the eager (naive) path, as PyTorch's math attention runs it in a
// low dtype:  S = (Q Kᵀ) · scale  (or (Q · scale) Kᵀ with scale_first),
// P = softmax(S), O = P V, each of S, P, O stored in F. With F = fp16 a logit
// above 65504 stores as inf, the row's max is inf and inf - inf = NaN: the whole
// output row becomes NaN. Scaling Q first by 1/sqrt(head_dim) keeps the logits
// sqrt(head_dim) times smaller, inside fp16's range. bf16 never overflows here,
// but its logits carry an error of u · |logit|, ~1 at logits of 256.
// Softmax's exp runs in fp32 (PyTorch's half softmax does too) with A-precision
// sums.
//
// Costs: attention O(heads · seq² · head_dim), memory Q, K, V, S (heads · seq²),
// O in F's bytes plus the fp32 output; matmul O(m · k · n). Everything is
// emulated one rounding at a time: these times are the emulation's, not what
// fp16 hardware does (it runs faster than fp32, not slower). The bytes are real.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "base/memory.hpp"

namespace memlab::precision {

enum class format { fp32, fp16, bf16 };

// "fp32", "fp16" or "bf16"; invalid_argument naming `name` otherwise.
format parse_format(const std::string& text, const char* name = "format");
const char* format_name(format f);
std::size_t bytes_per_value(format f);  // 4, 2, 2
int significant_bits(format f);         // p: 24, 11, 8
double unit_roundoff(format f);         // u = 2^-p
double largest_finite(format f);        // 3.40e38, 65504, 3.39e38

// The value a store in f keeps (round to nearest even; fp32: x itself).
float round(format f, float x);

// The bits of that stored value in f's encoding: 32 bits for fp32, 16 for
// fp16 and bf16 (in the low half).
std::uint32_t bits(format f, float x);

// n values stored in a format, tracked: 2 bytes a value for fp16/bf16, 4 for fp32.
class stored {
 public:
  stored(format f, std::size_t n);
  stored(format f, const float* x, std::size_t n);  // rounds each x[i] into f

  format fmt() const { return format_; }
  std::size_t size() const { return size_; }
  std::size_t bytes() const { return size_ * bytes_per_value(format_); }
  float get(std::size_t i) const;    // exact: every fp16/bf16 value is an fp32
  void set(std::size_t i, float x);  // rounds x into the format

  // The storage itself, for kernels that know the format: the bits of fp16/bf16
  // values, or fp32 values (the other pointer is null).
  std::uint16_t* half_data() { return half_.empty() ? nullptr : half_.data(); }
  const std::uint16_t* half_data() const { return half_.empty() ? nullptr : half_.data(); }
  float* full_data() { return full_.empty() ? nullptr : full_.data(); }
  const float* full_data() const { return full_.empty() ? nullptr : full_.data(); }

 private:
  format format_;
  std::size_t size_;
  buffer<std::uint16_t> half_;  // fp16 / bf16 bits
  buffer<float> full_;          // fp32
};

// How a computation stores and accumulates. accumulate is fp32 or storage.
struct arithmetic {
  format storage = format::fp32;
  format accumulate = format::fp32;
};

// Throws invalid_argument unless accumulate is fp32 or the storage format.
void check_arithmetic(const arithmetic& a);

// C = A B with a [m, k], b [k, n] stored in a.storage, each dot product summed in
// a.accumulate, C stored in a.storage (returned as the fp32 values it holds).
tensor<2> matmul(const tensor<2>& a, const tensor<2>& b, const arithmetic& how);

struct attention_options {
  arithmetic how;
  bool scale_first = false;  // (Q · scale) Kᵀ instead of (Q Kᵀ) · scale
  bool causal = false;
};

// Eager attention (see above), q, k, v [heads, seq, head_dim] -> [heads, seq, head_dim].
tensor<3> attention(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v,
                    const attention_options& options);

// Bytes attention() keeps while it runs, besides its fp32 output: Q, K, V and O
// [heads, seq, head_dim] and S [heads, seq, seq] in the storage format, plus one
// row of fp32 exponentials. Exact (the tests compare it with the tracker).
std::size_t attention_bytes(std::size_t heads, std::size_t seq, std::size_t head_dim, format f);

}  // namespace memlab::precision
