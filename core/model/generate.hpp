// model/generate.hpp — text generation with the tiny GPT, with and without a KV cache.
//
// Without a cache, step t runs the model over all t tokens so far: every layer
// recomputes K and V of the whole prefix, so n tokens cost O(n²) token-passes.
// With a cache, the prompt runs once (prefill) and each step runs one token
// (decode), appending its K and V: O(n). Both give the same tokens and logits.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/random.hpp"
#include "model/gpt.hpp"

namespace memlab {

struct sampling {
  float temperature = 0.0f;  // 0: greedy (argmax); otherwise softmax(logits / temperature)
  int top_k = 0;             // keep the k most likely tokens before sampling; 0: all
  std::uint32_t seed = 1;    // of the sampler's generator
};

// Throws memlab::invalid_argument for a negative temperature or top_k.
void check(const sampling& s);

// The next token from logits [vocab]. Greedy ties go to the lowest token id.
int sample(const tensor<1>& logits, const sampling& s, rng& gen);

struct generation {
  std::vector<int> tokens;        // the new tokens (prompt excluded)
  std::vector<tensor<1>> logits;  // the logits each new token was drawn from, if kept
  double ms = 0;                  // wall time, prefill included, on_token's time not
  // Of which until the first new token was drawn: the prompt's forward pass
  // (prefill) and one sample, what serving calls the time to first token.
  // Every later token is one decoding step: (ms - first_token_ms) / (n - 1)
  // each, the time per output token.
  double first_token_ms = 0;
  std::size_t cache_bytes = 0;  // allocated for the KV cache (0 without one)
};

// Called after each new token with the number generated so far.
using progress_callback = std::function<void(int done)>;

// The work of generating n tokens after a prompt of p, in flops of time
// (gpt::cost): with a cache the prompt runs once and each new token once,
// seeing at most p + n positions; without, step t runs all m = p + t tokens
// again (m (m + 1) / 2 pairs). generate() refuses more than base/limits.hpp allows.
double generation_flops(const gpt::config& c, double p, double n, bool cached);

// Generates max_new_tokens after prompt. The prompt and the new tokens must fit
// in max_seq positions. Throws memlab::invalid_argument on a bad prompt or length.
generation generate(const gpt::model& m, const std::vector<int>& prompt, int max_new_tokens,
                    bool use_cache, const sampling& s = {}, bool keep_logits = false,
                    const progress_callback& on_token = {});

// The same with a cache of the caller's (e.g. a paged one), which must be empty.
generation generate(const gpt::model& m, const std::vector<int>& prompt, int max_new_tokens,
                    kv_cache& cache, const sampling& s = {}, bool keep_logits = false,
                    const progress_callback& on_token = {});

}  // namespace memlab
