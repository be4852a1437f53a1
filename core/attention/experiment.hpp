// attention/experiment.hpp — the attention experiment, one function returning its figures.
//
// The native CLI prints them, the page graphs them (through the wasm module), the
// tests assert on the deterministic ones (tracked bytes, differences).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/measure.hpp"
#include "base/memory.hpp"

namespace memlab::experiments {

// Flash vs naive attention on seeded normal inputs, q [heads, seq, head_dim],
// k and v [kv_heads, seq, head_dim]. Sizes are ints so that a negative value
// from a command line or from JS is reported as such, not wrapped around.
struct attention_config {
  int seq = 1024;
  int head_dim = 64;
  int heads = 4;
  int kv_heads = 4;
  bool causal = false;
  int block_q = 64;
  int block_kv = 64;
  int repeats = 3;
  std::uint32_t seed = 1;
  bool run_naive = true;
  int threads = 1;  // for flash (base/parallel.hpp); the same bits on any number
  // Another naive attention to time on the same inputs, e.g. eager attention on
  // a BLAS (the native CLI passes OpenBLAS's; core links no BLAS): (q, k, v,
  // causal) -> out. Skipped when empty.
  std::function<tensor<3>(const tensor<3>&, const tensor<3>&, const tensor<3>&, bool)>
      external_naive;
};

struct attention_figures {
  attention_config config;
  run_figures naive;           // naive.ran == false when config.run_naive is false
  run_figures flash;           // on config.threads threads
  run_figures external_naive;  // .ran == false without config.external_naive
  double max_abs_diff = 0;     // max |flash - naive| over the output; NaN without naive
  double external_diff = 0;    // max |flash - external naive|; NaN without it
  std::size_t kv_bytes = 0;    // bytes of K and V
  double flops = 0;            // of one forward pass (masked pairs not counted)
};

attention_figures run_attention(const attention_config& config);

// A training step of one attention layer: forward then backward, naive (P kept
// for the backward, as eager autograd does) against flash (O and the logsumexp
// kept, P recomputed tile by tile; attention/flash_backward.hpp), on seeded normal
// q, k, v and output gradient dO. Each run's peak counts everything the step
// allocates: O, what the forward keeps, the gradients and the scratch.
// The sizes, tiles and repeats are run_attention's (attention_config). Bound: the
// naive run needs heads · seq² · 8 bytes (P and dP), at most 4 GiB.
struct flash_backward_figures {
  attention_config config;
  run_figures naive;  // forward + backward; naive.ran == false when config.run_naive is false
  run_figures flash;
  // max |flash − naive| over dQ, dK and dV, over the largest |naive| value among
  // them (a relative error); NaN without naive
  double max_rel_diff = 0;
  // Flops of the step, 2 per multiply-add: the forward's two products and the
  // backward's four, 12 · heads · pairs · head_dim (masked pairs not counted; flash
  // does the forward's Q Kᵀ once more on top, which is not counted).
  double flops = 0;
};

flash_backward_figures run_flash_backward(const attention_config& config);

// Attention I/O bytes (attention/io_bytes.hpp): the bytes naive and flash attention
// move between slow memory and a fast memory of fast_bytes, forward and backward,
// counted by the kernels on seeded inputs, beside the closed forms. Flash runs
// with the tiles the paper derives from fast_bytes (forward_tiles, backward_tiles),
// its forward saving the logsumexp as training needs. LSH attention (shared QK,
// attention/lsh.hpp) is counted beside them with its own options: its chunks, not
// M, size its tiles. Nothing is timed. Bound as run_flash_backward's when run_naive.
struct io_bytes_config {
  int seq = 1024;
  int head_dim = 64;
  int heads = 1;
  int kv_heads = 1;
  bool causal = false;
  int fast_bytes = 128 * 1024;  // M
  std::uint32_t seed = 1;
  bool run_naive = true;
  int lsh_buckets = 8;  // LSH attention's n_buckets, n_rounds and chunk
  int lsh_rounds = 2;
  int lsh_chunk = 64;
};

// Bytes of one kernel call (doubles, so that JS reads them as numbers).
struct io_count {
  double read = 0, written = 0;                  // counted by the kernel
  double formula_read = 0, formula_written = 0;  // the closed form
  bool ran = false;
};

struct io_bytes_figures {
  io_bytes_config config;
  int forward_block_q = 0, forward_block_kv = 0;    // the forward's tiles for M
  int backward_block_q = 0, backward_block_kv = 0;  // the backward's
  io_count naive, naive_backward, flash, flash_backward, lsh;
  // The two sides of Theorem 2 for these sizes: heads · N²d²/M and heads · (Nd + N²).
  double n2d2_over_m = 0, nd_plus_n2 = 0;
};

io_bytes_figures run_io_bytes(const io_bytes_config& config);

// LSH attention (attention/lsh.hpp) on seeded shared-QK inputs qk, v
// [heads, seq, head_dim]: its time and tracked peak against naive and flash
// attention on the same shapes (q = k = qk: the kernels LSH competes with), and
// its error against exact shared-QK attention (shared_qk_naive).
// data "random": qk ~ N(0, 1) — every logit about as large as the others, the
//   attention spread over the whole sequence, so LSH, which sees 2·chunk keys
//   per round, misses most of it.
// data "clustered": seq / cluster_size centres c ~ N(0, 1)^head_dim; each
//   position takes a random centre plus N(0, 0.1²) noise. A query's large logits
//   are its cluster's (about |c| ≈ sqrt(head_dim), against N(0, 1) for the
//   rest), and those keys hash with it in most rounds: with enough rounds LSH is
//   nearly exact. One round misses part of a cluster (a neighbour in another
//   bucket, or across a chunk boundary): that is why Reformer hashes 4-8 times.
struct lsh_config {
  int seq = 1024;
  int head_dim = 64;
  int heads = 1;
  int n_buckets = 16;
  int n_rounds = 2;
  int chunk = 64;
  bool causal = false;
  std::string data = "random";  // random | clustered
  int cluster_size = 16;        // mean positions per cluster of the clustered data
  int repeats = 3;
  std::uint32_t seed = 1;
  bool run_exact = true;  // the error needs shared_qk_naive's heads · seq² scores
  bool run_naive = true;
  bool run_flash = true;
};

struct lsh_figures {
  lsh_config config;
  run_figures lsh;
  run_figures exact;  // shared_qk_naive
  run_figures naive;
  run_figures flash;
  double max_abs_error = 0;       // max |lsh - exact|; NaN without the exact run
  double relative_error = 0;      // |lsh - exact|_F / |exact|_F; NaN without it
  std::size_t scratch_bytes = 0;  // lsh_scratch_bytes: lsh.peak_bytes minus the output
};

lsh_figures run_lsh(const lsh_config& config);

// LSH's error against exact shared-QK attention for every (data, n_buckets,
// n_rounds) of the grid, on the inputs run_lsh makes (no timing).
struct lsh_errors_config {
  int seq = 1024;
  int head_dim = 64;
  int chunk = 64;
  bool causal = false;
  int cluster_size = 16;
  std::vector<int> buckets = {2, 4, 8, 16, 32, 64};
  std::vector<int> rounds = {1, 2, 4, 8};
  std::uint32_t seed = 1;
};

struct lsh_error_row {
  std::string data;  // random | clustered
  int n_buckets = 0;
  int n_rounds = 0;
  double max_abs_error = 0;
  double relative_error = 0;
};

std::vector<lsh_error_row> run_lsh_errors(const lsh_errors_config& config);

}  // namespace memlab::experiments
