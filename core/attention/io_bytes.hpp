// attention/io_bytes.hpp — bytes an attention kernel moves between slow and fast memory.
//
// The model of Dao et al. 2022 (§3.2, Theorem 2): inputs, outputs and any
// materialised [seq_q, seq_kv] matrix live in slow memory (a GPU's HBM; main memory
// here); a kernel computes on tiles it has loaded into a fast memory of M bytes
// (SRAM; the cache here). A kernel's I/O is the bytes its loops load from slow
// memory and store to it. The counters sit in the kernels' own tile loops, where a
// tile is loaded or stored: an `io_bytes*` that is null by default, so counting
// costs one untaken branch per tile when it is off.
//
// Rules every kernel follows (and any new one must, e.g. LSH attention):
// * a tile is counted when it is loaded, once, however often the loop then uses
//   it from fast memory; every value is 4 bytes (fp32);
// * a store is counted once per tile written back;
// * accumulating into slow memory (dQ += …) loads the rows and stores them back,
//   except the first time they are touched, which stores only (they were zero);
// * scratch that lives in fast memory (a tile of scores, a transposed tile, the
//   running max and sum) is free.
// A kernel takes the counter as an argument (or a field of its options) and calls
// load(floats) / store(floats) at those points; a test compares the total with a
// closed form written from the loop structure. LSH attention is counted the same
// way (lsh_options::io): the rows it hashes, the Q/K/V rows it gathers in sorted
// order, each row's running softmax state and output it reads back and stores per
// round; its closed form, lsh_io_bytes, sits beside it in attention/lsh.hpp, and
// run_io_bytes (attention/experiment.hpp) reports it as one more io_count.
//
// Closed forms, in floats (×4 for bytes), for h query heads, g KV heads, N = seq_q,
// N' = seq_kv, d = head_dim; a Q tile of r rows "sees" kv_end keys (N' without a
// mask; under the causal mask, the keys its last row sees):
//
//   naive forward  (the paper's Algorithm 0; S, P [N, N'] per head in slow memory):
//     per head: load Q, K; store S; load S, store P (softmax, a row at a time);
//     load P, V; store O                                   = h (2Nd + 2N'd + 4NN')
//   flash forward  (FlashAttention-2's loop order: Q tiles outer):
//     per head and Q tile: load Q_i, store O_i (and L_i when saved); per K/V tile
//     visited: load K_j, V_j (whole tiles: keys_i = min(ceil(kv_end / block_kv) ·
//     block_kv, N') rows each)           = h (2Nd [+ N]) + h Σ_{Q tiles} 2 keys_i d
//     without a mask Σ keys_i = T_r N', T_r = ceil(N / block_q)
//   flash backward (FlashAttention-2's loop order: K/V tiles outer):
//     D = rowsum(dO ∘ O): load O, dO, store D               = h (2Nd + N)
//     per KV head and K/V tile: load K_j, V_j, store dK_j, dV_j  = g · 4N'd
//     per query head of the group, per (Q tile, K/V tile) visited: load Q_i, dO_i,
//     L_i, D_i; load dQ_i (not on its first visit) and store it
//                                      = Σ_visits r (2d + 2 + d) + (visits after the first) r d
//   naive backward (eager autograd, P kept from the forward): per head
//     dV += Pᵀ dO: load P, dO, store dV; dP = dO Vᵀ: load dO, V, store dP;
//     dS = P ∘ (dP − rowsum(P ∘ dP)): load P, dP, store dS; dQ = dS K: load dS, K,
//     store dQ; dK += dSᵀ Q: load dS, Q, store dK; dK and dV of a KV head are
//     loaded again for every query head of its group after the first
//                              = h (7NN' + 4Nd + 4N'd) + (h − g) 2N'd
// naive moves Θ(Nd + NN') whatever M is; flash moves Θ(N²d²/M) with the tiles
// below (Theorem 2), fewer bytes than naive once M is well above d² floats.
//
// Tile sizes from M (the paper's Algorithm 1): the loop that stays outer takes
// tiles of B = ceil(M / 4d) rows, so that four tiles of B rows (Q, K, V, O)
// fill the fast memory; the inner loop's tiles take min(B, d) rows. In the paper
// (and in our backward) K/V tiles are the outer loop: block_kv = B, block_q =
// min(B, d). Our forward runs FlashAttention-2's order, Q tiles outer, so there
// block_q = B and block_kv = min(B, d). Either way the outer loop makes N / B
// passes over the other operand: 4Nd / M passes of Θ(Nd) floats, Θ(N²d²/M).
#pragma once

#include <cstddef>
#include <cstdint>

namespace memlab::attention {

struct shape;
struct flash_options;

// Bytes moved between slow and fast memory, counted by a kernel's tile loops.
struct io_bytes {
  std::uint64_t read = 0;     // loaded from slow memory
  std::uint64_t written = 0;  // stored to slow memory

  void load(std::uint64_t floats) { read += floats * sizeof(float); }
  void store(std::uint64_t floats) { written += floats * sizeof(float); }
  std::uint64_t total() const { return read + written; }
};

// Tile sizes for a fast memory of fast_bytes bytes (fast_bytes / 4 floats):
// outer = ceil(fast_bytes / (16 · head_dim)), inner = min(outer, head_dim).
struct io_tiles {
  std::size_t outer = 0;
  std::size_t inner = 0;
};
io_tiles tiles_for(std::uint64_t fast_bytes, std::size_t head_dim);

// The options each flash kernel runs with for that fast memory: the forward's
// Q tiles and the backward's K/V tiles are the outer ones.
flash_options forward_tiles(std::uint64_t fast_bytes, std::size_t head_dim, bool causal);
flash_options backward_tiles(std::uint64_t fast_bytes, std::size_t head_dim, bool causal);

// The closed forms above, in bytes (reads and writes apart). The flash ones use
// options.block_q, block_kv and causal; save_logsumexp adds the forward's L.
io_bytes naive_io_bytes(const shape& s);
io_bytes flash_io_bytes(const shape& s, const flash_options& options, bool save_logsumexp);
io_bytes naive_backward_io_bytes(const shape& s);
io_bytes flash_backward_io_bytes(const shape& s, const flash_options& options);

}  // namespace memlab::attention
