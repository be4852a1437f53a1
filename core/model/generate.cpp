#include "model/generate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <optional>

#include "base/error.hpp"
#include "base/kernels.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"

namespace memlab {

void check(const sampling& s) {
  require(std::isfinite(s.temperature) && s.temperature >= 0.0f, "temperature", s.temperature,
          "0 (greedy) or a positive finite number");
  require(s.top_k >= 0, "top_k", s.top_k, "0 (all tokens) or positive");
}

double generation_flops(const gpt::config& c, double p, double n, bool cached) {
  const gpt::forward_cost k = gpt::cost(c);
  if (cached) return (p + n) * k.token + (p * (p + 1) / 2 + n * (p + n)) * k.pair + n * k.logits;
  const auto squares = [](double j) { return j * (j + 1) * (2 * j + 1) / 6; };  // sum 1..j of i²
  const double sum = n * p + n * (n - 1) / 2, sum_squares = squares(p + n - 1) - squares(p - 1);
  return sum * k.token + (sum_squares + sum) / 2 * k.pair + n * k.logits;
}

int sample(const tensor<1>& logits, const sampling& s, rng& gen) {
  const std::size_t n = logits.size();
  require(n > 0, "logits", n, "at least 1 value");
  check(s);
  if (s.temperature == 0.0f)
    return static_cast<int>(std::max_element(logits.begin(), logits.end()) - logits.begin());

  // Candidates: all tokens, or the top_k most likely (ties to the lower id):
  // the k first found by nth_element, then sorted: O(n + k log k), where
  // partial_sort's heap is O(n log k) (256 logits, top_k 40: 1.7 -> 1.0 us).
  std::vector<int> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  const std::size_t k =
      s.top_k == 0 ? n : std::min<std::size_t>(n, static_cast<std::size_t>(s.top_k));
  const float* l = logits.data();
  const auto before = [l](int a, int b) { return l[a] > l[b] || (l[a] == l[b] && a < b); };
  const auto kth = ids.begin() + static_cast<std::ptrdiff_t>(k);
  if (k < n) std::nth_element(ids.begin(), kth, ids.end(), before);
  std::sort(ids.begin(), kth, before);
  ids.resize(k);
  // softmax(logits / T) over the candidates, then one uniform draw.
  const float top = logits(ids[0]);
  std::vector<double> weight(k);
  double total = 0;
  for (std::size_t i = 0; i < k; ++i)
    total += weight[i] = std::exp((static_cast<double>(logits(ids[i])) - top) / s.temperature);
  double u = static_cast<double>(gen.uniform()) * total;
  for (std::size_t i = 0; i < k; ++i)
    if ((u -= weight[i]) < 0) return ids[i];
  return ids[k - 1];
}

namespace {

double since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Generation with an optional cache (nullptr: recompute the whole prefix each step).
generation run(const gpt::model& m, const std::vector<int>& prompt, int max_new_tokens,
               kv_cache* cache, const sampling& s, bool keep_logits,
               const progress_callback& on_token) {
  const auto& c = m.cfg();
  require(!prompt.empty(), "prompt", "empty", "at least 1 token");
  require(prompt.size() <= static_cast<std::size_t>(c.max_seq), "prompt length", prompt.size(),
          [&] { return "at most " + named("max_seq", c.max_seq); });
  require(max_new_tokens >= 0, "max_new_tokens", max_new_tokens, "0 or more");
  check(s);
  const std::size_t room = static_cast<std::size_t>(c.max_seq) - prompt.size();
  require(static_cast<std::size_t>(max_new_tokens) <= room, "max_new_tokens", max_new_tokens,
          [&] { return "at most max_seq - prompt length = " + std::to_string(room); });
  if (cache) require(cache->length() == 0, "cache length", cache->length(), "0 (an empty cache)");
  require_work(generation_flops(c, double(prompt.size()), max_new_tokens, cache != nullptr),
               {{"max_new_tokens", max_new_tokens},
                {"prompt length", static_cast<long long>(prompt.size())},
                {"layers", c.layers},
                {"d_model", c.d_model}},
               cache ? "generation with a KV cache" : "generation without a cache");

  generation out;
  rng gen(s.seed);
  const auto start = std::chrono::steady_clock::now();
  std::vector<int> sequence = prompt;
  // With a cache: the whole prompt once (prefill), then only the newest token,
  // by the decoder, whose buffers are allocated here, once. Without: the whole
  // sequence, every step.
  std::optional<gpt::decoder> decoder;
  if (cache && max_new_tokens > 1) decoder.emplace(m, *cache);
  tensor<1> general;  // the general path's logits (the decoder keeps its own)
  // Time spent in on_token is the caller's, not the model's: left out of the
  // figures (a JS callback from wasm took ~50 us a token, more than half a step).
  double observer_ms = 0;
  for (int step = 0; step < max_new_tokens; ++step) {
    const tensor<1>& logits = !cache      ? (general = m.next_logits(sequence))
                              : step == 0 ? (general = m.next_logits(prompt, cache))
                                          : decoder->step(sequence.back());
    const int token = sample(logits, s, gen);
    sequence.push_back(token);
    out.tokens.push_back(token);
    if (keep_logits) out.logits.push_back(logits);
    if (step == 0) out.first_token_ms = since(start);
    if (on_token) {
      const auto called = std::chrono::steady_clock::now();
      on_token(step + 1);
      observer_ms += since(called);
    }
  }
  out.ms = since(start) - observer_ms;
  return out;
}

}  // namespace

generation generate(const gpt::model& m, const std::vector<int>& prompt, int max_new_tokens,
                    bool use_cache, const sampling& s, bool keep_logits,
                    const progress_callback& on_token) {
  if (!use_cache) return run(m, prompt, max_new_tokens, nullptr, s, keep_logits, on_token);
  contiguous_kv_cache cache = m.make_cache();
  generation out = run(m, prompt, max_new_tokens, &cache, s, keep_logits, on_token);
  out.cache_bytes = cache.bytes();
  return out;
}

generation generate(const gpt::model& m, const std::vector<int>& prompt, int max_new_tokens,
                    kv_cache& cache, const sampling& s, bool keep_logits,
                    const progress_callback& on_token) {
  return run(m, prompt, max_new_tokens, &cache, s, keep_logits, on_token);
}

}  // namespace memlab
