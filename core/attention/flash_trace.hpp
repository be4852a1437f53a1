// attention/flash_trace.hpp — FlashAttention's forward pass one tile at a time,
// written plainly, recording every state of the online softmax (for the page's
// step-through; the fast kernel is attention::flash in attention.hpp).
//
// One head: q [seq_q, head_dim], k, v [seq_kv, head_dim], scale = 1 / sqrt(head_dim).
// Q is cut into tiles of block_q rows, K/V into tiles of block_kv rows. Each query
// row r of Q tile i starts with m = −∞, l = 0, O = 0 and, for each K/V tile j in
// order (with the end-aligned causal mask: only the tiles holding a key that the
// tile's last row sees), does
//   S     = Q_i K_jᵀ · scale                   [rows, cols], −∞ for masked keys
//   m_new = max(m_old, max_c S[r, c])          the running max
//   α     = exp(m_old − m_new)                 the rescale factor (0 on the first
//                                              tile, where m_old = −∞; 1 while the
//                                              max stays put)
//   P     = exp(S − m_new)                     [rows, cols], 0 for masked keys
//   l_new = α · l_old + Σ_c P[r, c]            the running sum
//   O     = α · O + P V_j                      [rows, head_dim], unnormalised
// After the tile's last K/V tile its rows are O / l: exactly softmax(S_row) V, as
// if all seq_kv scores had been seen at once (the naive softmax), since every
// exp(S − m) taken with an old max has been multiplied by exp(m_old − m_new).
//
// Cost: as attention::flash, plus the records — O(seq_q · seq_kv) floats for the
// scores and probabilities, O(seq_q · head_dim · seq_kv / block_kv) for the
// outputs — so the experiment keeps its sizes small (run_flash_trace's bounds).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/memory.hpp"

namespace memlab::attention {

// The states after one (Q tile, K/V tile) pair; row-major, rows = the Q tile's
// rows, cols = the K/V tile's keys.
struct flash_step {
  std::size_t q_tile = 0, kv_tile = 0;  // tile indices
  std::size_t q_begin = 0, rows = 0;    // query rows q_begin .. q_begin + rows - 1
  std::size_t kv_begin = 0, cols = 0;   // keys kv_begin .. kv_begin + cols - 1
  bool last = false;                    // the Q tile's last K/V tile: out is final
  std::vector<float> scores;            // S [rows, cols], −∞ where masked
  std::vector<float> probs;             // P = exp(S − m_new) [rows, cols]
  std::vector<float> m_old, m_new;      // running max before and after [rows]
  std::vector<float> rescale;           // α = exp(m_old − m_new) [rows]
  std::vector<float> l_old, l_new;      // running sum before and after [rows]
  std::vector<float> acc;               // O after the tile, unnormalised [rows, head_dim]
  std::vector<float> out;               // acc / l_new [rows, head_dim]
};

struct flash_trace_result {
  std::vector<flash_step> steps;  // in the order computed: Q tile by Q tile
  std::vector<float> out;         // O / l of every row [seq_q, head_dim]
};

// The traced forward pass of one head. Throws memlab::invalid_argument naming the
// argument for mismatched shapes, zero sizes or zero blocks.
flash_trace_result flash_trace(const tensor<2>& q, const tensor<2>& k, const tensor<2>& v,
                               std::size_t block_q, std::size_t block_kv, bool causal);

}  // namespace memlab::attention

namespace memlab::experiments {

// The step-through experiment: seeded normal q, k, v [seq, head_dim] (one head,
// seq_q = seq_kv = seq), traced, beside attention::naive on the same inputs.
// Small by design, every state is returned: seq <= 64, head_dim <= 16.
struct flash_trace_config {
  int seq = 12;
  int head_dim = 4;
  int block_q = 4;   // 1 .. seq
  int block_kv = 4;  // 1 .. seq
  bool causal = false;
  std::uint32_t seed = 1;
};

struct flash_trace_figures {
  flash_trace_config config;
  float scale = 0;                           // 1 / sqrt(head_dim)
  std::vector<float> q, k, v;                // the inputs [seq, head_dim]
  std::vector<attention::flash_step> steps;  // the trace
  std::vector<float> out;                    // the trace's output [seq, head_dim]
  std::vector<float> naive_probs;            // attention::naive's P [seq, seq]
  std::vector<float> naive_out;              // attention::naive's O [seq, head_dim]
  double max_abs_diff = 0;                   // max |out − naive_out|
};

flash_trace_figures run_flash_trace(const flash_trace_config& config);

}  // namespace memlab::experiments
