// quant/matvec.hpp — matrix-vector products y = W x with W stored quantized.
//
//   W [rows, cols] in one of the formats of memlab (fp32, fp16, affine int8/int4,
//   Q8_0, Q4_0, Q4_1, NF4), x [cols] fp32  ->  y [rows] fp32, a new tracked tensor.
//
// One token of LLM decoding is exactly this for every weight matrix, and it is
// bound by memory traffic: every weight is read once and used for one
// multiply-add. Reading 4.5 bits instead of 32 per weight is where the speed of
// quantized inference comes from, provided that unpacking costs less than the
// bytes it saves.
//
// * fp32: the baseline, a vectorized dot product per row.
// * Q8_0, Q4_0 (ggml): x is first quantized to Q8_0 blocks (ggml does the same:
//   vec_dot_type of Q4_0 and Q8_0 is Q8_0), then each block's dot product is an
//   integer one, sum_j q_w[j]·q_x[j], scaled once by d_w·d_x:
//     y[r] = Σ_b d_w[r,b] · d_x[b] · Σ_j q_w[r,b,j] · q_x[b,j]
//   The 4-bit kernels multiply the unsigned nibbles n (0..15) and take the
//   offset from the activations' code sums: Q4_0's q_w = n - 8, so its blocks
//   add d_w · d_x · (Σ_j n[j]·q_x[j] - 8·Σ_j q_x[j]), the two sums accumulated
//   apart over the row and subtracted once; Q4_1 adds m[r,b] · d_x[b] · Σ_j
//   q_x[b,j] (ggml's Q8_1 activations store that sum in fp16; here it is fp32).
//   The result differs from W·x by the activations' rounding too, and from
//   ggml's generic loops by fp32 rounding only (tested within 1e-5 of Σ|ŵ·x|).
// * fp16, affine int8/int4, NF4: dequantize on the fly, fp32 arithmetic, x as is:
//   the codes of a block/group become floats, are multiplied by x and summed, and
//   the sum is scaled once by the block's scale (affine: Σ (c - z)·x, times s).
//
// Time O(rows·cols) for all; reads rows·cols·bits/8 bytes of weights. Extra
// memory: y; for the ggml formats the activations' Q8_0 codes as the kernels
// take them (cols · sizeof(qkernels::act): 1 byte natively, 2 in wasm) and their
// scales as fp32 (cols/32 · 4), for Q4_0/Q4_1 also the code sums (cols/32 · 4);
// for NF4 one row's absmax values (cols/block · 4). The inner loops
// (quant/kernels.hpp) are vectorized natively (ggml's AVX2 kernels where the
// build has AVX2) and in wasm (-msimd128); measured figures are in the README.
//
// Each fast kernel has a plain reference that the tests hold it to:
// fp32_reference (double accumulation) for fp32, fp16, affine and NF4 applied to
// the dequantized matrix, and ggml's generic vec_dot loops (integer sums per
// block) for Q8_0/Q4_0/Q4_1.
#pragma once

#include <cstddef>

#include "base/memory.hpp"
#include "quant/affine.hpp"
#include "quant/fp16.hpp"
#include "quant/ggml_blocks.hpp"
#include "quant/nf4.hpp"

namespace memlab::qmatvec {

// Every product checks that x has cols values, all finite ("x[5] = nan: expected
// a finite value"), and throws memlab::invalid_argument otherwise.

tensor<1> fp32(const tensor<2>& w, const tensor<1>& x);
tensor<1> fp16(const fp16::fp16_matrix& w, const tensor<1>& x);
tensor<1> affine(const quant::affine_matrix& w, const tensor<1>& x);
tensor<1> q8_0(const ggml::q8_0_matrix& w, const tensor<1>& x);
tensor<1> q4_0(const ggml::q4_0_matrix& w, const tensor<1>& x);
tensor<1> q4_1(const ggml::q4_1_matrix& w, const tensor<1>& x);
tensor<1> nf4(const nf4::nf4_matrix& w, const tensor<1>& x);

// x [cols] as Q8_0 blocks [cols / 32] (quantize_row_q8_0_ref), tracked.
buffer<ggml::block_q8_0> quantize_activations(const tensor<1>& x);

// ---- references -------------------------------------------------------------

// y[r] = Σ_c w[r, c] · x[c], accumulated in double, rounded to fp32 once.
tensor<1> fp32_reference(const tensor<2>& w, const tensor<1>& x);

// ggml's ggml_vec_dot_q8_0_q8_0_generic / ggml_vec_dot_q4_0_q8_0_generic (and the
// Q4_1 analogue on Q8_0 activations): scalar loops, an int sum per block, then
// sumf += sumi · d_w · d_x, in the order ggml adds them.
tensor<1> q8_0_reference(const ggml::q8_0_matrix& w, const buffer<ggml::block_q8_0>& xq);
tensor<1> q4_0_reference(const ggml::q4_0_matrix& w, const buffer<ggml::block_q8_0>& xq);
tensor<1> q4_1_reference(const ggml::q4_1_matrix& w, const buffer<ggml::block_q8_0>& xq);

}  // namespace memlab::qmatvec
