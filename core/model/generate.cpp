#include "model/generate.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>

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

  // Candidates: all tokens, or the top_k most likely (ties to the lower id).
  std::vector<int> ids(n);
  std::iota(ids.begin(), ids.end(), 0);
  const std::size_t k =
      s.top_k == 0 ? n : std::min<std::size_t>(n, static_cast<std::size_t>(s.top_k));
  std::partial_sort(
      ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(k), ids.end(),
      [&](int a, int b) { return logits(a) > logits(b) || (logits(a) == logits(b) && a < b); });
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
  for (int step = 0; step < max_new_tokens; ++step) {
    // With a cache: the whole prompt once, then only the newest token.
    // Without: the whole sequence, every step.
    const tensor<1> logits = !cache      ? m.next_logits(sequence)
                             : step == 0 ? m.next_logits(prompt, cache)
                                         : m.next_logits({sequence.back()}, cache);
    const int token = sample(logits, s, gen);
    sequence.push_back(token);
    out.tokens.push_back(token);
    if (keep_logits) out.logits.push_back(logits);
    if (on_token) on_token(step + 1);
  }
  out.ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
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

namespace experiments {

generation_figures run_generation(const generation_config& config,
                                  const progress_callback& on_token) {
  return run_generation(gpt::model(config.model, config.model_seed), config, on_token);
}

generation_figures run_generation(const gpt::model& m, const generation_config& config,
                                  const progress_callback& on_token) {
  require_positive(config.tokens, "tokens");
  generation_figures f;
  f.config = config;
  f.config.model = m.cfg();
  f.weight_bytes = m.weight_bytes();
  f.kv_bytes_per_token = gpt::kv_cache_bytes(m.cfg(), 1);
  memory::peak_scope scope;
  const generation g = generate(m, gpt::encode(config.prompt), config.tokens, config.use_cache,
                                config.sampler, false, on_token);
  f.peak_bytes = scope.peak_bytes();
  f.text = gpt::decode(g.tokens);
  f.ms = g.ms;
  f.tokens_per_second = g.ms > 0 ? 1000.0 * config.tokens / g.ms : 0;
  f.cache_bytes = g.cache_bytes;
  return f;
}

weight_read time_weight_read(const gpt::model& m, int repeats) {
  require_repeats(repeats);
  // Each repeat is a batch of at least 2 ms (counted as 2e7 flops) of passes
  // summing every weight (2 flops each).
  require_work(repeats * (2e7 + 2.0 * double(m.parameter_count())),
               {{"repeats", repeats}, {"layers", m.cfg().layers}, {"d_model", m.cfg().d_model}},
               "the timed passes over the weights");
  const gpt::weights& w = m.params();
  require(m.weight_format() == nullptr, "model", "quantized",
          "an fp32 model (a quantized model's matrices are read by its own kernels)");
  std::vector<std::pair<const float*, std::size_t>> tensors;
  auto add = [&](const auto& t) { tensors.emplace_back(t.data(), t.size()); };
  for (const auto& l : w.layers) {
    add(l.norm1), add(l.wq), add(l.wk), add(l.wv), add(l.wo);
    add(l.norm2), add(l.w1), add(l.w2);
  }
  add(w.norm_f);
  add(m.cfg().tied ? w.token_embedding : w.lm_head);

  weight_read out;
  for (const auto& [data, size] : tensors) out.bytes += size * sizeof(float);

  volatile float sink = 0;  // the sums are used, so no pass is optimized away
  // The time of `passes` passes one after another, in microseconds.
  auto time_passes = [&](int passes) {
    const auto start = std::chrono::steady_clock::now();
    // Four independent sums, so the adds keep up with the loads (in wasm, four
    // read 3 MiB ~15% faster than two; natively they are equal).
    kernels::vfloat acc[4] = {};
    for (int p = 0; p < passes; ++p)
      for (const auto& [data, size] : tensors) {
        std::size_t i = 0;
        for (; i + 4 * kernels::lanes <= size; i += 4 * kernels::lanes)
          for (std::size_t x = 0; x < 4; ++x)
            acc[x] += kernels::load(data + i + x * kernels::lanes);
        for (; i < size; ++i) acc[0][0] += data[i];
      }
    const auto stop = std::chrono::steady_clock::now();
    sink = sink + kernels::reduce_add(acc[0] + acc[1] + acc[2] + acc[3]);
    return std::chrono::duration<double, std::micro>(stop - start).count();
  };
  auto fastest_of = [&](int runs, int passes) {
    double us = std::numeric_limits<double>::infinity();
    for (int r = 0; r < runs; ++r) us = std::min(us, time_passes(passes));
    return us;
  };
  // Passes per timed batch: enough that even the fastest of three batches lasts
  // 2 ms, so that a coarse clock (a browser's performance.now() may tick every
  // 100 µs) still times it to a few percent, and one slow first run (cold
  // caches, wasm's baseline code before the optimized tier) cannot set the size.
  int batch = 1;
  while (fastest_of(3, batch) < 2000.0 && batch < (1 << 20)) batch *= 2;
  out.us = fastest_of(repeats, batch) / batch;
  return out;
}

}  // namespace experiments
}  // namespace memlab
