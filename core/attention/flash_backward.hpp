// attention/flash_backward.hpp — the backward pass of attention: naive, and
// FlashAttention's by recomputation.
//
// With O = softmax(S) V, S = Q Kᵀ · scale (attention/attention.hpp), and dO the
// gradient of a loss with respect to O:
//
//   dV = Pᵀ dO                                  P = softmax(S)
//   dP = dO Vᵀ
//   dS = P ∘ (dP − D),  D_i = Σ_j P_ij dP_ij = dO_i · O_i
//   dQ = dS K · scale,  dK = dSᵀ Q · scale
//
// (D_i = dO_i · O_i because O_i = Σ_j P_ij V_j.) Under a causal mask P_ij = 0 for
// the hidden keys, so dS_ij = 0 there too. With GQA/MQA a K/V head serves a group
// of heads / kv_heads query heads: its dK and dV are the sums over the group.
//
// Shapes (fp32, row-major): q, out, dout, dq [heads, seq_q, head_dim];
// k, v, dk, dv [kv_heads, seq_kv, head_dim]; probs [heads, seq_q, seq_kv];
// logsumexp [heads, seq_q].
//
// naive_backward(): what eager autograd does. The forward kept P [heads, seq_q,
//   seq_kv] (attention::naive with probs); the backward allocates dP of the same
//   size (dS overwrites it in place) and runs the five products above on whole
//   matrices, the Aᵀ B ones a panel of pn = min(64, seq_q) rows of A at a time
//   transposed into a [seq_kv, pn] scratch. Extra memory (floats), P and the
//   output gradients aside:  heads · seq_q · seq_kv  +  pn · seq_kv
// flash_backward(): Dao et al. 2022, Algorithm 4, in FlashAttention-2's loop
//   order (flash_attn_triton.py's _bwd_kernel). The forward saved only O and the
//   logsumexp L_i = m_i + log l_i of each query row (flash with
//   options.logsumexp), so P_ij = exp(S_ij − L_i) can be recomputed tile by tile:
//     pass 1: D = rowsum(dO ∘ O)                           [heads, seq_q]
//     pass 2: for each KV head, for each K/V tile j (block_kv keys): K_j and V_j
//       stay in fast memory; dK_j, dV_j accumulate over every Q tile i (block_q
//       rows) of every query head of the group:
//         S = Q_i K_jᵀ · scale,  P = exp(S − L_i)   (masked keys: 0)
//         dV_j += Pᵀ dO_i,  dP = dO_i V_jᵀ,  dS = P ∘ (dP − D_i) · scale
//         dQ_i += dS K_j,   dK_j += dSᵀ Q_i
//       With a causal mask the Q tiles whose last row does not see key j0 (the
//       tiles above the diagonal) are skipped.
//   Extra memory (floats), the output gradients aside, for br = min(block_q,
//   seq_q), bc = min(block_kv, seq_kv), and w = min(threads, kv_heads) workers
//   (pass 2 runs one KV head per task, each worker with its own tiles):
//     heads · seq_q  (D)  +  w · 2 · head_dim · bc  (K_j, V_j transposed)
//     +  w · 3 · br · bc  (P, dP/dS, one of them transposed)
//   O(seq · head_dim) in all with the forward's O and L: no [seq, seq] matrix.
//   Time: the forward's two products recomputed once more (S) plus four: about
//   2.5× the forward's flops, as the paper's.
//
// Fwd + bwd peaks (the tracker's, inputs and dO aside), the formulas the tests
// assert at seq 2048, for h = heads, g = kv_heads, N = seq_q, N' = seq_kv, d, on
// one thread (the page's; w = 1 above):
//   naive: 2hNN' + 2hNd + 2gN'd + pn·N'       (P, dP; O, dQ; dK, dV; the panel)
//   flash: 2hNd + 2gN'd + 2hN + 2d·bc + 3br·bc  (O, dQ; dK, dV; L, D; tiles)
// On more threads flash's tiles count w times (the backward's tiles outweigh the
// forward's, freed before it starts).
// Both kernels count their slow-memory traffic when options.io (or io) is set,
// with the rules and closed forms of attention/io_bytes.hpp.
#pragma once

#include <cstddef>

#include "attention/attention.hpp"
#include "base/memory.hpp"

namespace memlab::attention {

struct gradients {
  tensor<3> dq;  // [heads, seq_q, head_dim]
  tensor<3> dk;  // [kv_heads, seq_kv, head_dim]
  tensor<3> dv;  // [kv_heads, seq_kv, head_dim]
};

// Rows of P transposed at a time by naive_backward (its only scratch besides dP).
constexpr std::size_t naive_backward_panel = 64;

// From P kept by naive(q, k, v, causal, &probs). Throws memlab::invalid_argument
// naming a tensor whose shape does not fit.
gradients naive_backward(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v,
                         const tensor<3>& probs, const tensor<3>& dout, io_bytes* io = nullptr);

// From O and L kept by flash(q, k, v, options) with options.logsumexp set; uses
// options.causal, block_q, block_kv and io (logsumexp is ignored).
gradients flash_backward(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v,
                         const tensor<3>& out, const tensor<2>& logsumexp, const tensor<3>& dout,
                         const flash_options& options = {});

}  // namespace memlab::attention
