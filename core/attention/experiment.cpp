#include "attention/experiment.hpp"

#include <cmath>
#include <limits>
#include <vector>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "attention/attention.hpp"
#include "attention/lsh.hpp"
#include "base/difference.hpp"
#include "base/error.hpp"
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
  require_positive(config.repeats, "repeats");
  attention::check_shape(s, config.causal);

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
  require_positive(config.repeats, "repeats");
  const attention::flash_options causal{true, 64, 64};
  attention::check_shape(s, causal.causal);

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

namespace {

// qk and v [heads, seq, head_dim] for run_lsh (see experiment.hpp).
void lsh_inputs(const std::string& data, std::size_t heads, std::size_t seq, std::size_t d,
                std::size_t cluster_size, std::uint32_t seed, tensor<3>& qk, tensor<3>& v) {
  require(data == "random" || data == "clustered", "data", data, "random or clustered");
  const std::size_t clusters = std::max<std::size_t>(1, seq / cluster_size);
  rng gen(seed);
  if (data == "random") {
    qk = random_normal<3>({heads, seq, d}, gen);
  } else {
    const tensor<2> centres = random_normal<2>({clusters, d}, gen);
    qk = tensor<3>::from_shape({heads, seq, d});
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t p = 0; p < seq; ++p) {
        const auto m = std::min(clusters - 1, static_cast<std::size_t>(gen.uniform() * clusters));
        for (std::size_t c = 0; c < d; ++c) qk(h, p, c) = centres(m, c) + 0.1f * gen.normal();
      }
  }
  v = random_normal<3>({heads, seq, d}, gen);
}

attention::lsh_options lsh_options_of(int n_buckets, int n_rounds, int chunk, bool causal,
                                      std::uint32_t seed) {
  const attention::lsh_options o{require_positive(n_buckets, "n_buckets"),
                                 require_positive(n_rounds, "n_rounds"),
                                 require_positive(chunk, "chunk"), causal, seed};
  attention::check_lsh_options(o);
  return o;
}

}  // namespace

lsh_figures run_lsh(const lsh_config& config) {
  const std::size_t heads = require_positive(config.heads, "heads");
  const std::size_t seq = require_positive(config.seq, "seq");
  const std::size_t d = require_positive(config.head_dim, "head_dim");
  const std::size_t cluster_size = require_positive(config.cluster_size, "cluster_size");
  require_positive(config.repeats, "repeats");
  const attention::lsh_options options =
      lsh_options_of(config.n_buckets, config.n_rounds, config.chunk, config.causal, config.seed);
  require(std::uint64_t{heads} * seq * d <= (std::uint64_t{1} << 26), "heads · seq · head_dim",
          std::uint64_t{heads} * seq * d, "at most 2^26 values (256 MiB a tensor)");

  tensor<3> qk, v;
  lsh_inputs(config.data, heads, seq, d, cluster_size, config.seed, qk, v);

  lsh_figures figures;
  figures.config = config;
  figures.scratch_bytes = attention::lsh_scratch_bytes(heads, seq, d, options);
  const attention::shape s{heads, heads, seq, seq, d};
  const double flops = attention::flops(s, config.causal);

  tensor<3> lsh_out;
  figures.lsh = measure(config.repeats, [&] { lsh_out = attention::lsh(qk, v, options); });
  figures.max_abs_error = figures.relative_error = std::numeric_limits<double>::quiet_NaN();
  if (config.run_exact) {
    tensor<3> exact;
    figures.exact =
        measure(config.repeats, [&] { exact = attention::shared_qk_naive(qk, v, config.causal); });
    const difference f = difference_of(lsh_out.data(), exact.data(), exact.size());
    figures.max_abs_error = f.max_abs;
    figures.relative_error = f.rel_frobenius;
  }
  if (config.run_naive) {
    tensor<3> out;
    figures.naive = measure(
        config.repeats, [&] { out = attention::naive(qk, qk, v, config.causal); }, flops);
  }
  if (config.run_flash) {
    tensor<3> out;
    const attention::flash_options flash{config.causal, 64, 64};
    figures.flash = measure(
        config.repeats, [&] { out = attention::flash(qk, qk, v, flash); }, flops);
  }
  return figures;
}

std::vector<lsh_error_row> run_lsh_errors(const lsh_errors_config& config) {
  const std::size_t seq = require_positive(config.seq, "seq");
  const std::size_t d = require_positive(config.head_dim, "head_dim");
  const std::size_t cluster_size = require_positive(config.cluster_size, "cluster_size");
  require(std::uint64_t{seq} * seq <= (std::uint64_t{1} << 26), "seq", seq,
          "at most 8192 (the exact attention keeps seq² scores)");
  require(!config.buckets.empty(), "buckets", "[]", "at least one bucket count");
  require(!config.rounds.empty(), "rounds", "[]", "at least one round count");

  std::vector<lsh_error_row> rows;
  for (const char* data : {"random", "clustered"}) {
    tensor<3> qk, v;
    lsh_inputs(data, 1, seq, d, cluster_size, config.seed, qk, v);
    const tensor<3> exact = attention::shared_qk_naive(qk, v, config.causal);
    for (const int b : config.buckets)
      for (const int r : config.rounds) {
        const auto options = lsh_options_of(b, r, config.chunk, config.causal, config.seed);
        const tensor<3> out = attention::lsh(qk, v, options);
        const difference f = difference_of(out.data(), exact.data(), exact.size());
        rows.push_back({data, b, r, f.max_abs, f.rel_frobenius});
      }
  }
  return rows;
}

}  // namespace memlab::experiments
