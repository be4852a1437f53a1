#include "attention/experiment.hpp"

#include <cmath>
#include <limits>
#include <vector>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "attention/attention.hpp"
#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"
#include "kv_cache/kv_cache.hpp"

namespace memlab::experiments {
attention_figures run_attention(const attention_config& config) {
  const attention::shape s{require_positive(config.heads, "heads"),
                           require_positive(config.kv_heads, "kv_heads"),
                           require_positive(config.seq, "seq"), require_positive(config.seq, "seq"),
                           require_positive(config.head_dim, "head_dim")};
  const attention::flash_options options{config.causal, require_positive(config.block_q, "block_q"),
                                         require_positive(config.block_kv, "block_kv")};
  require_repeats(config.repeats);
  attention::check_shape(s, config.causal);
  // Held at once: q, k, v, the kept flash output and the running pass's
  // allocations (naive's include its output). Runs: a warm-up and the repeats.
  const count inputs = (count(s.heads) + count(2) * s.kv_heads) * s.seq_q * s.head_dim * 4;
  const count output = count(s.heads) * s.seq_q * s.head_dim * 4;
  const count pass = config.run_naive ? attention::naive_bytes(s) + output
                                      : attention::flash_bytes(s, options);
  const std::initializer_list<sized> sizes{
      {"seq", config.seq}, {"head_dim", config.head_dim}, {"heads", config.heads}};
  require_bytes(inputs + output + std::max(pass, attention::flash_bytes(s, options)), sizes,
                "q, k, v, outputs and scores");
  const double naive_work =
      config.run_naive ? attention::work(s, config.causal, {config.causal, 1, s.seq_kv}) : 0;
  require_work((config.repeats + 1.0) * (attention::work(s, config.causal, options) + naive_work),
               {{"repeats", config.repeats}, {"seq", config.seq}, {"head_dim", config.head_dim},
                {"heads", config.heads}},
               config.run_naive ? "runs of flash and naive attention" : "runs of flash attention");

  rng gen(config.seed);
  const tensor<3> q = random_normal<3>({s.heads, s.seq_q, s.head_dim}, gen);
  const tensor<3> k = random_normal<3>({s.kv_heads, s.seq_kv, s.head_dim}, gen);
  const tensor<3> v = random_normal<3>({s.kv_heads, s.seq_kv, s.head_dim}, gen);

  attention_figures figures;
  figures.config = config;
  figures.kv_bytes = attention::kv_bytes(s.kv_heads, s.seq_kv, s.head_dim);
  figures.flops = attention::flops(s, config.causal);

  // Each run's result is move-assigned over the previous one, so a run's peak
  // counts its output and scratch, with the previous output in the baseline.
  tensor<3> flash_out;
  figures.flash = measure(
      config.repeats, [&] { flash_out = attention::flash(q, k, v, options); }, figures.flops);

  figures.max_abs_diff = std::numeric_limits<double>::quiet_NaN();
  if (config.run_naive) {
    tensor<3> naive_out;
    figures.naive = measure(
        config.repeats, [&] { naive_out = attention::naive(q, k, v, config.causal); },
        figures.flops);
    figures.max_abs_diff = xt::amax(xt::abs(flash_out - naive_out))();
  }
  return figures;
}

cache_decode_figures run_cache_decode(const cache_decode_config& config) {
  const attention::shape s{
      require_positive(config.heads, "heads"), require_positive(config.kv_heads, "kv_heads"), 1,
      require_positive(config.tokens, "tokens"), require_positive(config.head_dim, "head_dim")};
  require_repeats(config.repeats);
  const attention::flash_options causal{true, 64, 64};
  attention::check_shape(s, causal.causal);
  // Held: every step's q, k and v (a small tensor each, 64-byte aligned, with
  // its bookkeeping), the cache, and K and V again for the naive check. Work:
  // step t attends over t keys, a warm-up and the repeats, and the check.
  const count per_step = (count(s.heads) + count(2) * s.kv_heads) * s.head_dim * 4 + 3 * 256;
  const std::initializer_list<sized> sizes{
      {"tokens", config.tokens}, {"heads", config.heads}, {"head_dim", config.head_dim}};
  require_bytes(count(s.seq_kv) * per_step + count(4) * attention::kv_bytes(s.kv_heads, s.seq_kv, s.head_dim),
                sizes, "every step's q, k, v and the cache");
  const attention::shape all{s.heads, s.kv_heads, s.seq_kv, s.seq_kv, s.head_dim};
  // A decoding step's attention call, its append and its allocations: ~10^4 flops of time.
  require_work((config.repeats + 1.0) * (attention::work(all, true, causal) + 1e4 * s.seq_kv) +
                   attention::work(s, false, causal),
               {{"repeats", config.repeats}, {"tokens", config.tokens}, {"heads", config.heads},
                {"head_dim", config.head_dim}},
               "the decoding steps");

  // Every step's q, k and v made before the timed runs.
  rng gen(config.seed);
  std::vector<tensor<3>> q, k, v;
  for (std::size_t t = 0; t < s.seq_kv; ++t) {
    q.push_back(random_normal<3>({s.heads, 1, s.head_dim}, gen));
    k.push_back(random_normal<3>({s.kv_heads, 1, s.head_dim}, gen));
    v.push_back(random_normal<3>({s.kv_heads, 1, s.head_dim}, gen));
  }

  cache_decode_figures figures;
  figures.config = config;
  figures.cache_bytes = contiguous_kv_cache::bytes_for(1, s.kv_heads, s.seq_kv, s.head_dim);
  // A run's peak: the cache, the step's scratch, and two outputs (the previous
  // step's is freed when the new one replaces it).
  tensor<3> last;
  figures.run = measure(config.repeats, [&] {
    contiguous_kv_cache cache(1, s.kv_heads, s.seq_kv, s.head_dim);
    tensor<3> out;
    for (std::size_t t = 0; t < s.seq_kv; ++t) {
      cache.append(0, k[t], v[t]);
      out = attention::flash(q[t], cache.layer(0), causal);
    }
    last = std::move(out);
  });

  // The last query attends to every token: naive attention over all of K and V.
  auto all_k = tensor<3>::from_shape({s.kv_heads, s.seq_kv, s.head_dim});
  auto all_v = tensor<3>::from_shape({s.kv_heads, s.seq_kv, s.head_dim});
  for (std::size_t t = 0; t < s.seq_kv; ++t) {
    xt::view(all_k, xt::all(), xt::range(t, t + 1), xt::all()) = k[t];
    xt::view(all_v, xt::all(), xt::range(t, t + 1), xt::all()) = v[t];
  }
  const tensor<3> expected = attention::naive(q.back(), all_k, all_v, false);
  figures.max_abs_diff = xt::amax(xt::abs(last - expected))();
  return figures;
}

}  // namespace memlab::experiments
