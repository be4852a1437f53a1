// attention/experiment.hpp — each experiment is one function returning its figures.
//
// The native CLI prints them, the page graphs them (through the wasm module), the
// tests assert on the deterministic ones (tracked bytes, differences).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

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

// One attention layer decoding over a contiguous KV cache: each of `tokens`
// steps appends the new token's K and V ([kv_heads, 1, head_dim]) and attends
// its query ([heads, 1, head_dim]) over every position so far, the loop the
// lab's KV-cache exercise benchmarks. Inputs are seeded normal values.
struct cache_decode_config {
  int tokens = 512;
  int heads = 4;
  int kv_heads = 1;
  int head_dim = 64;
  int repeats = 3;
  std::uint32_t seed = 1;
};

struct cache_decode_figures {
  cache_decode_config config;
  run_figures run;              // all `tokens` steps, the cache's allocation included
  std::size_t cache_bytes = 0;  // 2 · kv_heads · tokens · head_dim · 4, in run.peak_bytes
  double max_abs_diff = 0;      // the last step's output against naive attention over all tokens
};

cache_decode_figures run_cache_decode(const cache_decode_config& config);

}  // namespace memlab::experiments
