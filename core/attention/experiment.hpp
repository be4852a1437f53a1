// attention/experiment.hpp — the attention experiment, one function returning its figures.
//
// The native CLI prints them, the page graphs them (through the wasm module), the
// tests assert on the deterministic ones (tracked bytes, differences).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/measure.hpp"

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
};

struct attention_figures {
  attention_config config;
  run_figures naive;  // naive.ran == false when config.run_naive is false
  run_figures flash;
  double max_abs_diff = 0;   // max |flash - naive| over the output; NaN without naive
  std::size_t kv_bytes = 0;  // bytes of K and V
  double flops = 0;          // of one forward pass (masked pairs not counted)
};

attention_figures run_attention(const attention_config& config);

}  // namespace memlab::experiments
