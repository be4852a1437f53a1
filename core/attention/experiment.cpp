#include "attention/experiment.hpp"

#include <cmath>
#include <limits>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "attention/attention.hpp"
#include "base/error.hpp"
#include "base/random.hpp"

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

}  // namespace memlab::experiments
