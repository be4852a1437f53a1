#include "kv_cache/experiment.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>
#include <vector>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "attention/attention.hpp"
#include "base/error.hpp"
#include "base/kernels.hpp"
#include "base/limits.hpp"
#include "base/memory.hpp"
#include "base/random.hpp"
#include "kv_cache/kv_cache.hpp"

namespace memlab::experiments {

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
  f.first_token_ms = g.first_token_ms;
  f.step_us = config.tokens > 1 ? (g.ms - g.first_token_ms) * 1000.0 / (config.tokens - 1) : 0;
  f.cache_bytes = g.cache_bytes;
  return f;
}

generation_figures run_generation_from(const std::vector<std::uint8_t>& file,
                                       const generation_from_config& config,
                                       const progress_callback& on_token) {
  const gpt::model m = gpt::model::from_bytes(file);
  generation_config c;
  c.model = m.cfg();
  c.prompt = config.prompt;
  c.tokens = config.tokens;
  c.use_cache = config.use_cache;
  c.sampler = config.sampler;
  return run_generation(m, c, on_token);
}

weight_read time_weight_read(const gpt::model& m, int repeats) {
  require_repeats(repeats);
  // Each repeat is two batches of at least 2 ms (counted as 2e7 flops each):
  // passes summing every weight (2 flops each) and passes of the products (2
  // flops each), after three batches of each sizing them.
  require_work((repeats + 3) * 2 * (2e7 + 2.0 * double(m.parameter_count())),
               {{"repeats", repeats}, {"layers", m.cfg().layers}, {"d_model", m.cfg().d_model}},
               "the timed passes over the weights");
  const gpt::weights& w = m.params();
  const gpt::config& c = m.cfg();
  require(m.weight_format() == nullptr, "model", "quantized",
          "an fp32 model (a quantized model's matrices are read by its own kernels)");
  require(c.experts == 0, "experts", c.experts,
          "0, a dense model (an MoE step reads the router and the top_k experts each token "
          "picks, not w1 and w2)");
  std::vector<std::pair<const float*, std::size_t>> tensors;
  auto add = [&](const auto& t) { tensors.emplace_back(t.data(), t.size()); };
  for (const auto& l : w.layers) {
    add(l.norm1), add(l.wq), add(l.wk), add(l.wv), add(l.wo);
    add(l.norm2), add(l.w1), add(l.w2);
  }
  add(w.norm_f);
  add(c.tied ? w.token_embedding : w.lm_head);

  weight_read out;
  for (const auto& [data, size] : tensors) out.bytes += size * sizeof(float);

  volatile float sink = 0;  // the sums are used, so no pass is optimized away
  // Passes summing every weight. Four independent sums, so the adds keep up
  // with the loads (in wasm, four read 3 MiB ~15% faster than two; natively
  // they are equal).
  auto read_pass = [&] {
    kernels::vfloat acc[4] = {};
    for (const auto& [data, size] : tensors) {
      std::size_t i = 0;
      for (; i + 4 * kernels::lanes <= size; i += 4 * kernels::lanes)
        for (std::size_t x = 0; x < 4; ++x) acc[x] += kernels::load(data + i + x * kernels::lanes);
      for (; i < size; ++i) acc[0][0] += data[i];
    }
    sink = sink + kernels::reduce_add(acc[0] + acc[1] + acc[2] + acc[3]);
  };
  // Passes of the same weights through a decoding step's products, with the
  // decoder's kernels: y = x · W for every layer's wq wk wv wo w1 w2, then the
  // model's output head; no attention, norms or GELU. x is a fixed row; every
  // y starts at 0, as the decoder's q, k, v and hidden do.
  const auto d = static_cast<std::size_t>(c.d_model), ff = static_cast<std::size_t>(c.d_ff);
  std::vector<float> x(std::max(d, ff), 1.0f / float(ff));
  std::vector<float> y(std::max({d, ff, static_cast<std::size_t>(gpt::vocab)}));
  auto product = [&](const tensor<2>& weights) {  // [in, out]
    std::fill_n(y.data(), weights.shape(1), 0.0f);
    kernels::matmul_accumulate(x.data(), 1, weights.shape(0), weights.data(), weights.shape(1),
                               y.data());
  };
  auto products_pass = [&] {
    for (const auto& l : w.layers)
      for (const tensor<2>* weights : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2}) product(*weights);
    m.output_head(x.data(), 1, y.data());
    sink = sink + y[0];
  };
  // The fastest of `runs` batches of `passes` passes, one pass's microseconds.
  auto fastest_of = [](const auto& pass, int runs, int passes) {
    double us = std::numeric_limits<double>::infinity();
    for (int r = 0; r < runs; ++r) {
      const auto start = std::chrono::steady_clock::now();
      for (int p = 0; p < passes; ++p) pass();
      const auto stop = std::chrono::steady_clock::now();
      us = std::min(us, std::chrono::duration<double, std::micro>(stop - start).count());
    }
    return us / passes;
  };
  // Passes per timed batch: enough that even the fastest of three batches lasts
  // 2 ms, so that a coarse clock (a browser's performance.now() may tick every
  // 100 µs) still times it to a few percent, and one slow first run (cold
  // caches, wasm's baseline code before the optimized tier) cannot set the size.
  auto time_pass = [&](const auto& pass) {
    int batch = 1;
    while (fastest_of(pass, 3, batch) * batch < 2000.0 && batch < (1 << 20)) batch *= 2;
    return fastest_of(pass, repeats, batch);
  };
  out.us = time_pass(read_pass);
  out.products_us = time_pass(products_pass);
  return out;
}

weight_read time_weight_read(const gpt::config& model, std::uint32_t model_seed, int repeats) {
  return time_weight_read(gpt::model(model, model_seed), repeats);
}

namespace {

// The fastest of `repeats` runs (see run_generation_table).
generation_figures fastest(const gpt::model& model, const generation_config& config, int repeats) {
  auto best = run_generation(model, config);
  for (int r = 1; r < repeats; ++r) {
    auto f = run_generation(model, config);
    if (f.ms < best.ms) best = std::move(f);
  }
  return best;
}

}  // namespace

generation_table run_generation_table(const generation_config& config,
                                      const std::vector<int>& tokens, int repeats) {
  generation_table table;
  table.repeats = repeats;
  require_repeats(repeats);
  // Every length with and without the cache, `repeats` times each.
  double work = 0;
  const double prompt = double(std::max<std::size_t>(1, config.prompt.size()));
  for (int n : tokens)
    work += repeats * (generation_flops(config.model, prompt, n, false) +
                       generation_flops(config.model, prompt, n, true));
  require_work(work,
               {{"repeats", repeats},
                {"lengths", static_cast<long long>(tokens.size())},
                {"layers", config.model.layers},
                {"d_model", config.model.d_model}},
               "the table's generations");
  const gpt::model model(config.model, config.model_seed);
  table.read = time_weight_read(model);
  for (int n : tokens) {
    generation_config c = config;
    c.tokens = n;
    generation_row row;
    row.tokens = n;
    c.use_cache = false;
    row.no_cache = fastest(model, c, repeats);
    c.use_cache = true;
    row.cache = fastest(model, c, repeats);
    row.speedup = row.cache.tokens_per_second / row.no_cache.tokens_per_second;
    row.speedup_ceiling = row.no_cache.ms * 1000.0 / (n * table.read.us);
    table.rows.push_back(std::move(row));
  }
  return table;
}

std::uint64_t kv_cache_bytes(const gpt::config& model, int tokens) {
  return gpt::kv_cache_bytes(model, require_positive(tokens, "tokens"));
}

std::vector<kv_cache_size> kv_cache_sizes(const gpt::config& model,
                                          const std::vector<int>& kv_heads,
                                          const std::vector<int>& tokens) {
  require_bytes(count(kv_heads.size()) * tokens.size() * sizeof(kv_cache_size),
                {{"kv_heads.size()", static_cast<long long>(kv_heads.size())},
                 {"tokens.size()", static_cast<long long>(tokens.size())}},
                "the table's rows");
  std::vector<kv_cache_size> rows;
  for (int k : kv_heads) {
    gpt::config c = model;
    c.kv_heads = k;
    for (int n : tokens) rows.push_back({k, n, kv_cache_bytes(c, n)});
  }
  return rows;
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
  require_bytes(
      count(s.seq_kv) * per_step + count(4) * attention::kv_bytes(s.kv_heads, s.seq_kv, s.head_dim),
      sizes, "every step's q, k, v and the cache");
  const attention::shape all{s.heads, s.kv_heads, s.seq_kv, s.seq_kv, s.head_dim};
  // A decoding step's attention call, its append and its allocations: ~10^4 flops of time.
  require_work((config.repeats + 1.0) * (attention::work(all, true, causal) + 1e4 * s.seq_kv) +
                   attention::work(s, false, causal),
               {{"repeats", config.repeats},
                {"tokens", config.tokens},
                {"heads", config.heads},
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
