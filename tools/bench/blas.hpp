// blas.hpp — what a user would run instead of memlab's kernels, on OpenBLAS
// (native only: linked into memlab-bench, never into core or wasm).
//
// * naive_attention: eager attention as numpy or PyTorch eager run it,
//   S = Q Kᵀ · scale (cblas_sgemm per head), P = softmax(S) row by row (the
//   stable form, vectorized as numpy's and PyTorch's are), O = P V (cblas_sgemm).
//   Materialises [heads, seq_q, seq_kv] scores, as memlab's naive does.
// * sgemm_gflops: the rate of C = A B at n x n x n, the machine's roofline for
//   the two products attention is made of.
//
// OpenBLAS picks its kernel by CPU detection (corename(): "SkylakeX",
// "Haswell", "Zen", ...). On some VMs it detects an old core ("Prescott") and
// runs several times slower: the name is printed with every figure taken
// against it, and OPENBLAS_CORETYPE is never set here.
#pragma once

#include <string>

#include "base/memory.hpp"

namespace memlab::bench::blas {

std::string corename();

// Threads OpenBLAS uses from now on (openblas_set_num_threads).
void set_threads(int n);

tensor<3> naive_attention(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v, bool causal);

// GFLOP/s of C = A B with A, B, C n x n fp32 (2 n^3 flops), the median of `repeats`.
double sgemm_gflops(int n, int repeats);

}  // namespace memlab::bench::blas
