#include "attention/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "attention/attention.hpp"
#include "attention/flash_backward.hpp"
#include "attention/io_bytes.hpp"
#include "attention/lsh.hpp"
#include "base/difference.hpp"
#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/parallel.hpp"
#include "base/random.hpp"

namespace memlab::experiments {
namespace {

// The shape of a training step's attention (seq_q = seq_kv = seq), checked, and
// its bytes against base/limits.hpp before anything is allocated: q, k, v, dO,
// the output, the gradients dq, dk, dv, and with naive its P and dP
// (2 · heads · seq² floats), or flash's logsumexp and tiles.
attention::shape step_shape(int heads, int kv_heads, int seq, int head_dim, bool causal,
                            bool run_naive) {
  const attention::shape s{require_positive(heads, "heads"), require_positive(kv_heads, "kv_heads"),
                           require_positive(seq, "seq"), require_positive(seq, "seq"),
                           require_positive(head_dim, "head_dim")};
  attention::check_shape(s, causal);
  const count q = count(s.heads) * s.seq_q * s.head_dim,
              kv = count(s.kv_heads) * s.seq_kv * s.head_dim;
  const count p = run_naive ? count(2) * s.heads * s.seq_q * s.seq_kv : count(s.heads) * s.seq_q;
  require_bytes((count(3) * q + count(4) * kv + q + p + count(4) * 4096) * sizeof(float),
                {{"seq", seq}, {"heads", heads}, {"head_dim", head_dim}},
                run_naive ? "q, k, v, dO, the gradients and naive's P and dP"
                          : "q, k, v, dO, the gradients and flash's tiles");
  return s;
}

// Seeded normal q, k, v and the output gradient dO.
struct step_inputs {
  tensor<3> q, k, v, dout;
};

step_inputs random_step_inputs(const attention::shape& s, std::uint32_t seed) {
  rng gen(seed);
  step_inputs x;
  x.q = random_normal<3>({s.heads, s.seq_q, s.head_dim}, gen);
  x.k = random_normal<3>({s.kv_heads, s.seq_kv, s.head_dim}, gen);
  x.v = random_normal<3>({s.kv_heads, s.seq_kv, s.head_dim}, gen);
  x.dout = random_normal<3>({s.heads, s.seq_q, s.head_dim}, gen);
  return x;
}

io_count to_count(const attention::io_bytes& counted, const attention::io_bytes& formula) {
  return {double(counted.read), double(counted.written), double(formula.read),
          double(formula.written), true};
}

}  // namespace

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
  const count pass =
      config.run_naive ? attention::naive_bytes(s) + output : attention::flash_bytes(s, options);
  const std::initializer_list<sized> sizes{
      {"seq", config.seq}, {"head_dim", config.head_dim}, {"heads", config.heads}};
  require_bytes(inputs + output + std::max(pass, attention::flash_bytes(s, options)), sizes,
                "q, k, v, outputs and scores");
  const double naive_work =
      config.run_naive ? attention::work(s, config.causal, {config.causal, 1, s.seq_kv}) : 0;
  require_work((config.repeats + 1.0) * (attention::work(s, config.causal, options) + naive_work),
               {{"repeats", config.repeats},
                {"seq", config.seq},
                {"head_dim", config.head_dim},
                {"heads", config.heads}},
               config.run_naive ? "runs of flash and naive attention" : "runs of flash attention");
  parallel::scoped_threads threads(config.threads);

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
  figures.external_diff = std::numeric_limits<double>::quiet_NaN();
  if (config.external_naive) {
    tensor<3> external_out;
    figures.external_naive = measure(
        config.repeats, [&] { external_out = config.external_naive(q, k, v, config.causal); },
        figures.flops);
    figures.external_diff = xt::amax(xt::abs(flash_out - external_out))();
  }
  return figures;
}

flash_backward_figures run_flash_backward(const attention_config& config) {
  const attention::shape s = step_shape(config.heads, config.kv_heads, config.seq, config.head_dim,
                                        config.causal, config.run_naive);
  const attention::flash_options options{config.causal, require_positive(config.block_q, "block_q"),
                                         require_positive(config.block_kv, "block_kv")};
  require_repeats(config.repeats);
  // Forward and backward: about three forward passes each, a warm-up and the repeats.
  const double naive_work =
      config.run_naive ? attention::work(s, config.causal, {config.causal, 1, s.seq_kv}) : 0;
  require_work(
      (config.repeats + 1.0) * 3 * (attention::work(s, config.causal, options) + naive_work),
      {{"repeats", config.repeats},
       {"seq", config.seq},
       {"head_dim", config.head_dim},
       {"heads", config.heads}},
      "runs of the forward and backward passes");
  parallel::scoped_threads threads(config.threads);
  const step_inputs x = random_step_inputs(s, config.seed);

  flash_backward_figures figures;
  figures.config = config;
  figures.flops = 3 * attention::flops(s, config.causal);

  // A run's gradients are move-assigned over the previous run's, which are in the
  // baseline: the peak is the step's own.
  attention::gradients flash;
  figures.flash = measure(
      config.repeats,
      [&] {
        tensor<2> lse;
        attention::flash_options forward = options;
        forward.logsumexp = &lse;
        const tensor<3> out = attention::flash(x.q, x.k, x.v, forward);
        flash = attention::flash_backward(x.q, x.k, x.v, out, lse, x.dout, options);
      },
      figures.flops);

  figures.max_rel_diff = std::numeric_limits<double>::quiet_NaN();
  if (config.run_naive) {
    attention::gradients naive;
    figures.naive = measure(
        config.repeats,
        [&] {
          tensor<3> probs;
          const tensor<3> out = attention::naive(x.q, x.k, x.v, config.causal, &probs);
          naive = attention::naive_backward(x.q, x.k, x.v, probs, x.dout);
        },
        figures.flops);
    double diff = 0, scale = 0;
    for (auto [a, b] :
         {std::pair{&flash.dq, &naive.dq}, {&flash.dk, &naive.dk}, {&flash.dv, &naive.dv}}) {
      diff = std::max(diff, double(xt::amax(xt::abs(*a - *b))()));
      scale = std::max(scale, double(xt::amax(xt::abs(*b))()));
    }
    figures.max_rel_diff = scale > 0 ? diff / scale : diff;
  }
  return figures;
}

namespace {

attention::lsh_options lsh_options_of(int n_buckets, int n_rounds, int chunk, bool causal,
                                      std::uint32_t seed) {
  const attention::lsh_options o{require_positive(n_buckets, "n_buckets"),
                                 require_positive(n_rounds, "n_rounds"),
                                 require_positive(chunk, "chunk"), causal, seed};
  attention::check_lsh_options(o);
  return o;
}

// An LSH pass's work, in flops of time: per head, round and position a
// rotation (2 · head_dim · n_buckets / 2), a sort (~50 · log2 seq), and its chunk
// against itself and the one before (2 · chunk keys, 4 · head_dim each, and an
// exponential).
double lsh_work(std::size_t heads, std::size_t seq, std::size_t d,
                const attention::lsh_options& o) {
  const double n = double(seq), rounds = double(o.n_rounds);
  const double per = double(d) * double(o.n_buckets) + 50 * std::log2(n + 1) +
                     2.0 * double(o.chunk) * (4.0 * double(d) + 24);
  return double(heads) * rounds * n * per;
}

}  // namespace

io_bytes_figures run_io_bytes(const io_bytes_config& config) {
  const attention::shape s = step_shape(config.heads, config.kv_heads, config.seq, config.head_dim,
                                        config.causal, config.run_naive);
  const std::uint64_t m = require_positive(config.fast_bytes, "fast_bytes");
  const attention::flash_options forward = attention::forward_tiles(m, s.head_dim, config.causal);
  const attention::flash_options backward = attention::backward_tiles(m, s.head_dim, config.causal);
  // One forward and backward pass each (tiles from M: as small as 4 rows).
  // LSH's options under this config's names (check_lsh_options would say n_buckets).
  require(config.lsh_buckets == 1 || (config.lsh_buckets >= 2 && config.lsh_buckets % 2 == 0 &&
                                      config.lsh_buckets <= 65536),
          "lsh_buckets", config.lsh_buckets, "1 or an even number up to 65536");
  require(config.lsh_rounds >= 1 && config.lsh_rounds <= 64, "lsh_rounds", config.lsh_rounds,
          "in [1, 64]");
  require_positive(config.lsh_chunk, "lsh_chunk");
  attention::lsh_options lsh = lsh_options_of(config.lsh_buckets, config.lsh_rounds,
                                              config.lsh_chunk, config.causal, config.seed);
  const double naive_work =
      config.run_naive ? attention::work(s, config.causal, {config.causal, 1, s.seq_kv}) : 0;
  require_work(3 * (attention::work(s, config.causal, forward) + naive_work) +
                   3 * attention::work(s, config.causal, backward) +
                   lsh_work(s.heads, s.seq_q, s.head_dim, lsh),
               {{"seq", config.seq},
                {"head_dim", config.head_dim},
                {"heads", config.heads},
                {"fast_bytes", static_cast<long long>(m)}},
               "the counted forward and backward passes and LSH's");
  const step_inputs x = random_step_inputs(s, config.seed);

  io_bytes_figures figures;
  figures.config = config;
  figures.forward_block_q = int(forward.block_q), figures.forward_block_kv = int(forward.block_kv);
  figures.backward_block_q = int(backward.block_q);
  figures.backward_block_kv = int(backward.block_kv);
  const double h = double(s.heads), n = double(s.seq_q), d = double(s.head_dim);
  figures.n2d2_over_m = h * n * n * d * d / double(m);
  figures.nd_plus_n2 = h * (n * d + n * n);

  if (config.run_naive) {
    attention::io_bytes fwd, bwd;
    tensor<3> probs;
    attention::naive(x.q, x.k, x.v, config.causal, &probs, &fwd);
    attention::naive_backward(x.q, x.k, x.v, probs, x.dout, &bwd);
    figures.naive = to_count(fwd, attention::naive_io_bytes(s));
    figures.naive_backward = to_count(bwd, attention::naive_backward_io_bytes(s));
  }
  attention::io_bytes fwd, bwd;
  tensor<2> lse;
  attention::flash_options counted = forward;
  counted.logsumexp = &lse;
  counted.io = &fwd;
  const tensor<3> out = attention::flash(x.q, x.k, x.v, counted);
  counted = backward;
  counted.io = &bwd;
  attention::flash_backward(x.q, x.k, x.v, out, lse, x.dout, counted);
  figures.flash = to_count(fwd, attention::flash_io_bytes(s, forward, true));
  figures.flash_backward = to_count(bwd, attention::flash_backward_io_bytes(s, backward));

  // LSH attends with one projection for queries and keys: q serves as qk, and
  // dout (q's shape) as v; the counts do not depend on the values.
  attention::io_bytes lsh_counted;
  lsh.io = &lsh_counted;
  attention::lsh(x.q, x.dout, lsh);
  figures.lsh = to_count(lsh_counted, attention::lsh_io_bytes(s.heads, s.seq_q, s.head_dim, lsh));
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

}  // namespace

lsh_figures run_lsh(const lsh_config& config) {
  const std::size_t heads = require_positive(config.heads, "heads");
  const std::size_t seq = require_positive(config.seq, "seq");
  const std::size_t d = require_positive(config.head_dim, "head_dim");
  const std::size_t cluster_size = require_positive(config.cluster_size, "cluster_size");
  require_repeats(config.repeats);
  const attention::lsh_options options =
      lsh_options_of(config.n_buckets, config.n_rounds, config.chunk, config.causal, config.seed);
  require(std::uint64_t{heads} * seq * d <= (std::uint64_t{1} << 26), "heads · seq · head_dim",
          std::uint64_t{heads} * seq * d, "at most 2^26 values (256 MiB a tensor)");
  // Each method a warm-up and the repeats: LSH, and exact, naive, flash as asked.
  const attention::shape s{heads, heads, seq, seq, d};
  const double exact = attention::work(s, config.causal, {config.causal, 1, seq});
  require_work(
      (config.repeats + 1.0) * (lsh_work(heads, seq, d, options) +
                                (config.run_exact + config.run_naive + config.run_flash) * exact),
      {{"repeats", config.repeats},
       {"seq", config.seq},
       {"heads", config.heads},
       {"head_dim", config.head_dim}},
      "the timed runs");

  tensor<3> qk, v;
  lsh_inputs(config.data, heads, seq, d, cluster_size, config.seed, qk, v);

  lsh_figures figures;
  figures.config = config;
  figures.scratch_bytes = attention::lsh_scratch_bytes(heads, seq, d, options);
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
  // Per data set the exact attention and every (buckets, rounds) pair's LSH.
  double work = attention::work({1, 1, seq, seq, d}, config.causal, {config.causal, 1, seq});
  for (const int b : config.buckets)
    for (const int r : config.rounds)
      work += lsh_work(1, seq, d, lsh_options_of(b, r, config.chunk, config.causal, config.seed));
  require_work(2 * work,
               {{"seq", config.seq},
                {"buckets.size()", static_cast<long long>(config.buckets.size())},
                {"rounds.size()", static_cast<long long>(config.rounds.size())}},
               "the error table");

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
