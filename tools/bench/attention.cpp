// memlab-bench attention — flash vs naive attention side by side, and against
// what a user would run instead: eager naive attention on OpenBLAS, and
// OpenBLAS's sgemm rate as the roofline, all in one run.
#include <cmath>
#include <iostream>
#include <memory>

#include "attention/experiment.hpp"
#include "base/error.hpp"
#include "base/parallel.hpp"
#include "blas.hpp"
#include "commands.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

// OpenBLAS's figures of the run: which kernel it picked, the sgemm roofline.
struct blas_figures {
  bool ran = false;
  std::string core;
  int sgemm_n = 0;
  double sgemm_gflops = 0;
};

json nan_as_null(double x) { return std::isnan(x) ? json(nullptr) : json(x); }

std::string maybe(double x, const char* format) {
  return std::isnan(x) ? std::string("-") : number_text(format, x);
}

void print(const experiments::attention_figures& f, const blas_figures& b, bool as_json) {
  const auto& c = f.config;
  if (as_json) {
    json out = {{"experiment", "attention"},
                {"config", to_json(c)},
                {"naive", to_json(f.naive)},
                {"flash", to_json(f.flash)},
                {"naive_blas", to_json(f.external_naive)},
                {"max_abs_diff", nan_as_null(f.max_abs_diff)},
                {"naive_blas_diff", nan_as_null(f.external_diff)},
                {"kv_bytes", f.kv_bytes},
                {"flops", f.flops}};
    if (b.ran) {
      out["openblas_core"] = b.core;
      out["sgemm_n"] = b.sgemm_n;
      out["sgemm_gflops"] = b.sgemm_gflops;
    }
    std::cout << out.dump(2) << '\n';
    return;
  }
  std::printf(
      "attention: heads %d, kv_heads %d, seq %d, head_dim %d, %s, tiles %dx%d, %d repeats, "
      "%d thread%s\n",
      c.heads, c.kv_heads, c.seq, c.head_dim, c.causal ? "causal" : "not causal", c.block_q,
      c.block_kv, c.repeats, c.threads, c.threads == 1 ? "" : "s");
  print_runs({{"naive", &f.naive}, {"naive OpenBLAS", &f.external_naive}, {"flash", &f.flash}});
  std::printf("  %-20s %14s %14s\n", "max abs diff", maybe(f.max_abs_diff, "%.3g").c_str(),
              maybe(f.external_diff, "%.3g").c_str());
  std::printf("  %-20s %14s\n", "K+V bytes", bytes_text(double(f.kv_bytes)).c_str());
  std::printf("  %-20s %14s\n", "flops", number_text("%.4g", f.flops).c_str());
  if (b.ran) {
    std::printf("  OpenBLAS core %s, %d thread%s; sgemm %d^3: %.1f GFLOP/s\n", b.core.c_str(),
                c.threads, c.threads == 1 ? "" : "s", b.sgemm_n, b.sgemm_gflops);
    std::printf("  flash / naive OpenBLAS %s x, flash / sgemm %s %%\n",
                maybe(f.flash.gflops / f.external_naive.gflops, "%.2f").c_str(),
                maybe(100 * f.flash.gflops / b.sgemm_gflops, "%.0f").c_str());
  }
}

}  // namespace

void add_attention_options(CLI::App* cmd, attention_options& o) {
  cmd->add_option("--seq", o.config.seq, "sequence length")->capture_default_str();
  cmd->add_option("--head-dim", o.config.head_dim, "size of one head")->capture_default_str();
  cmd->add_option("--heads", o.config.heads, "query heads")->capture_default_str();
  cmd->add_option("--kv-heads", o.kv_heads, "key/value heads, a divisor of heads (default: heads)");
  cmd->add_flag("--causal", o.config.causal, "causal mask (tiles above the diagonal skipped)");
  cmd->add_option("--block", o.block, "tile size for both query rows and keys (default 64)");
  cmd->add_option("--block-q", o.config.block_q, "query rows per tile")->capture_default_str();
  cmd->add_option("--block-kv", o.config.block_kv, "keys per tile")->capture_default_str();
  cmd->add_option("--repeats", o.config.repeats, "timed runs per implementation (median reported)")
      ->capture_default_str();
  cmd->add_option("--seed", o.config.seed, "seed of the random inputs")->capture_default_str();
  o.config.threads = parallel::max_threads();
  cmd->add_option("--threads", o.config.threads, "threads for flash (default: all cores)")
      ->capture_default_str();
  cmd->add_flag("--no-naive", o.no_naive, "skip the naive baseline");
  cmd->add_flag("--json", o.json, "print JSON instead of a table");
}

experiments::attention_config attention_config_of(const CLI::App* cmd, const attention_options& o) {
  auto config = o.config;
  config.kv_heads = cmd->count("--kv-heads") ? o.kv_heads : config.heads;
  if (cmd->count("--block")) config.block_q = config.block_kv = o.block;
  config.run_naive = !o.no_naive;
  return config;
}

nlohmann::json to_json(const experiments::attention_config& c) {
  return {{"seq", c.seq},           {"head_dim", c.head_dim}, {"heads", c.heads},
          {"kv_heads", c.kv_heads}, {"causal", c.causal},     {"block_q", c.block_q},
          {"block_kv", c.block_kv}, {"repeats", c.repeats},   {"seed", c.seed},
          {"threads", c.threads}};
}

void print_runs(std::initializer_list<std::pair<const char*, const run_figures*>> runs) {
  auto row = [&](const char* name, auto&& value) {
    std::printf("  %-20s", name);
    for (const auto& [label, r] : runs) std::printf(" %14s", value(*r).c_str());
    std::printf("\n");
  };
  auto ran = [](const run_figures& r, std::string text) { return r.ran ? text : "-"; };
  std::printf("  %-20s", "");
  for (const auto& [label, r] : runs) std::printf(" %14s", label);
  std::printf("\n");
  row("time (median)",
      [&](const run_figures& r) { return ran(r, number_text("%.3f ms", r.median_ms)); });
  row("GFLOP/s", [&](const run_figures& r) { return ran(r, number_text("%.2f", r.gflops)); });
  row("tracked peak heap",
      [&](const run_figures& r) { return ran(r, bytes_text(double(r.peak_bytes))); });
  row("process peak RSS",
      [&](const run_figures& r) { return ran(r, bytes_text(double(r.peak_rss_bytes))); });
}

void print_naive_vs_flash(const run_figures& naive, const run_figures& flash) {
  print_runs({{"naive", &naive}, {"flash", &flash}});
}

void add_attention_command(CLI::App& app) {
  struct options : attention_options {
    int sgemm = 2048;
    bool no_blas = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand(
      "attention", "flash vs naive attention (memlab's and on OpenBLAS), MHA/GQA/MQA");
  add_attention_options(cmd, *o);
  cmd->add_option("--sgemm", o->sgemm, "size n of the n^3 sgemm timed as the roofline")
      ->capture_default_str();
  cmd->add_flag("--no-blas", o->no_blas, "skip the OpenBLAS baseline and the sgemm roofline");
  cmd->callback([cmd, o] {
    auto config = attention_config_of(cmd, *o);
    blas_figures b;
    if (!o->no_blas) {
      require_positive(o->sgemm, "sgemm");
      // OpenBLAS on as many threads as flash: the same machine for both.
      blas::set_threads(static_cast<int>(require_positive(config.threads, "threads")));
      config.external_naive = blas::naive_attention;
    }
    const auto figures = experiments::run_attention(config);
    if (!o->no_blas) {
      b.ran = true;
      b.core = blas::corename();
      b.sgemm_n = o->sgemm;
      b.sgemm_gflops = blas::sgemm_gflops(o->sgemm, config.repeats);
    }
    print(figures, b, o->json);
  });
}

}  // namespace memlab::bench
