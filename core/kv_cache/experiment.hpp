// kv_cache/experiment.hpp — the KV-cache experiments, each one function returning
// its figures: the tiny GPT generating with and without a cache (one run, and the
// table of speeds over lengths with its ceiling), the floor a cached step cannot
// beat (reading the weights once), the bytes a cache holds per MHA/GQA/MQA
// variant, and one attention layer decoding over a contiguous cache (the loop of
// the KV-cache exercise).
//
// The native CLI (tools/bench/generate.cpp) prints them, the page graphs them
// (wasm/kv_cache.cpp translates them to JS), the tests assert on the
// deterministic ones (bytes, tokens, differences).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/measure.hpp"
#include "model/generate.hpp"
#include "model/gpt.hpp"

namespace memlab::experiments {

struct generation_config {
  gpt::config model;
  std::uint32_t model_seed = 1;
  std::string prompt = "The cache ";
  int tokens = 100;  // new tokens
  bool use_cache = true;
  sampling sampler;
};

struct generation_figures {
  generation_config config;
  std::string text;  // the new tokens as bytes
  double ms = 0;
  double tokens_per_second = 0;
  // Time to the first new token (the prompt's prefill) and per later token (one
  // decoding step each; 0 for a single token), from generation's first_token_ms.
  double first_token_ms = 0;
  double step_us = 0;
  std::size_t cache_bytes = 0;  // allocated: 2 · layers · kv_heads · max_seq · head_dim · 4
  std::size_t kv_bytes_per_token = 0;  // 2 · layers · kv_heads · head_dim · 4
  std::size_t weight_bytes = 0;
  std::size_t peak_bytes = 0;  // tracked heap peak during generation (weights excluded)
};

generation_figures run_generation(const generation_config& config,
                                  const progress_callback& on_token = {});

// The same with a given model (e.g. trained weights loaded from a file); the
// config's model and model_seed are not used, the figures report m's config.
generation_figures run_generation(const gpt::model& m, const generation_config& config,
                                  const progress_callback& on_token = {});

// The same with a model read from a weights file (gpt::model::to_bytes's
// format, checked by from_bytes): its config comes from the file, so the
// generation is configured without one.
struct generation_from_config {
  std::string prompt = "The cache ";
  int tokens = 100;
  bool use_cache = true;
  sampling sampler;
};
generation_figures run_generation_from(const std::vector<std::uint8_t>& file,
                                       const generation_from_config& config,
                                       const progress_callback& on_token = {});

// What a decoding step cannot do without: read every weight it multiplies once
// (each layer's matrices and norms, and the output head). Plain passes summing
// them in the model's order, timed in batches of at least 2 ms, the fastest of
// `repeats` batches: the time reading alone takes on this machine, a floor under
// every cached step whatever its kernels, and so a ceiling over the speedup of n
// cached tokens,
//   speedup <= (ms without cache) / (n · read time).
//
// products_us times the same weights through a decoding step's products alone
// (every layer's x · W and the output head, with the decoder's kernels; no
// attention, norms or GELU), the same way: how close the products come to the
// floor, and what the rest of a step costs (step − products_us).
struct weight_read {
  std::size_t bytes = 0;   // read by one pass
  double us = 0;           // one pass, from the fastest batch
  double products_us = 0;  // one pass of the products, from the fastest batch
};

// Refuses a quantized or an MoE model (memlab::invalid_argument).
weight_read time_weight_read(const gpt::model& m, int repeats = 20);
// The same for the model of config `model` seeded with model_seed.
weight_read time_weight_read(const gpt::config& model, std::uint32_t model_seed, int repeats);

// The speed table: for each length in `tokens`, the fastest of `repeats` runs
// without and with the cache (a run of a few milliseconds is easily slowed by
// whatever else the machine does, never sped up), their speedup, and its
// ceiling from the weight read (time_weight_read, 20 batches) of the same model:
//   speedup_ceiling = (ms without cache) / (n · read time).
// config.tokens and config.use_cache are set per run; the rest is used as given.
struct generation_row {
  int tokens = 0;
  generation_figures no_cache, cache;
  double speedup = 0;          // cache tokens/s over no-cache tokens/s
  double speedup_ceiling = 0;  // no cached run of n tokens beats n weight reads
};

struct generation_table {
  int repeats = 0;
  weight_read read;
  std::vector<generation_row> rows;
};

// Throws memlab::invalid_argument for repeats <= 0, a bad model or a length
// that does not fit in max_seq after the prompt.
generation_table run_generation_table(const generation_config& config,
                                      const std::vector<int>& tokens, int repeats);

// Bytes of K and V a model with this config keeps for `tokens` tokens (one
// sequence): 2 · layers · kv_heads · tokens · head_dim · 4, in 64 bits. Throws
// for a bad config or tokens <= 0.
std::uint64_t kv_cache_bytes(const gpt::config& model, int tokens);

// kv_cache_bytes of `model` with each of `kv_heads` (MHA, GQA, MQA: heads, a
// divisor, 1) at each of `tokens`: the table the page charts, in one call.
struct kv_cache_size {
  int kv_heads = 0;
  int tokens = 0;
  std::uint64_t bytes = 0;
};
std::vector<kv_cache_size> kv_cache_sizes(const gpt::config& model,
                                          const std::vector<int>& kv_heads,
                                          const std::vector<int>& tokens);

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
