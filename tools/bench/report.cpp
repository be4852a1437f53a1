// memlab-bench report — the headline figures against what users would pick
// instead, in one run and one table:
//   * attention at seq 4096 (head_dim 64, 4 heads): memlab's naive, naive
//     attention on OpenBLAS (what numpy / PyTorch eager run), flash; on one
//     thread and on all cores; OpenBLAS's sgemm as the roofline;
//   * decoding the tiny GPT with a KV cache (100 tokens) against the floor of
//     reading its weights once per token;
//   * quantized matrix-vector products (Q8_0, Q4_0) against fp32, 4096 x 4096.
// Every figure comes from the same core functions the other commands call.
// The page has the same table for the browser (web: npm run bench:report).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "attention/experiment.hpp"
#include "base/error.hpp"
#include "base/parallel.hpp"
#include "blas.hpp"
#include "commands.hpp"
#include "kv_cache/experiment.hpp"
#include "quant/experiment.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

// The CPU's name as Linux reports it ("model name" in /proc/cpuinfo).
std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
  return "unknown";
}

// The load averages over 1, 5 and 15 minutes ("/proc/loadavg"): on a shared
// machine other processes' load skews every figure, the thread scaling most.
std::string load_average() {
  std::ifstream in("/proc/loadavg");
  std::string one, five, fifteen;
  if (!(in >> one >> five >> fifteen)) return "unknown";
  return one + " " + five + " " + fifteen;
}

struct report_options {
  int seq = 4096;
  int threads = parallel::max_threads();
  int repeats = 3;
  int sgemm = 2048;
  int tokens = 100;
  int matvec_size = 4096;
  bool memlab_naive = true;
  bool json = false;
};

void run_report(const report_options& o) {
  require_positive(o.threads, "threads");
  require_positive(o.sgemm, "sgemm");
  json out = {{"cpu", cpu_model()},
              {"cores", parallel::max_threads()},
              {"openblas_core", blas::corename()},
              {"load_before", load_average()}};

  // -- attention, one thread then o.threads
  experiments::attention_config a;
  a.seq = o.seq;
  a.repeats = o.repeats;
  a.external_naive = blas::naive_attention;
  json attention = json::array();
  double flash_one = 0;
  std::vector<int> runs = {1};
  if (o.threads > 1) runs.push_back(o.threads);
  for (int threads : runs) {
    a.threads = threads;
    a.run_naive = o.memlab_naive && threads == 1;  // minutes at seq 4096; once is enough
    blas::set_threads(threads);
    const auto f = experiments::run_attention(a);
    const double sgemm = blas::sgemm_gflops(o.sgemm, o.repeats);
    if (threads == 1) flash_one = f.flash.gflops;
    attention.push_back({{"threads", threads},
                         {"naive", to_json(f.naive)},
                         {"naive_blas", to_json(f.external_naive)},
                         {"flash", to_json(f.flash)},
                         {"sgemm_gflops", sgemm},
                         {"flash_over_naive_blas", f.flash.gflops / f.external_naive.gflops},
                         {"flash_over_sgemm", f.flash.gflops / sgemm},
                         {"flash_over_one_thread", f.flash.gflops / flash_one},
                         {"max_abs_diff_naive_blas", f.external_diff}});
  }
  blas::set_threads(1);
  out["attention"] = {
      {"seq", o.seq}, {"head_dim", a.head_dim}, {"heads", a.heads}, {"runs", attention}};

  // -- decoding with a KV cache against the weight-read floor. The floor is the
  // fastest of 20 batches; the step the fastest of at least 200 cached runs (~5
  // ms each): on a shared machine the fastest of 10 moved between 46 and 54 us
  // from one report to the next, the fastest of 50 between 51 and 53 us at load
  // 0.7, the fastest of 500 stayed at 46-47. A step is
  // a token after the first (the time per output token): the first one's time
  // is the prompt's prefill, a forward pass over all its tokens, reported apart.
  experiments::generation_config g;
  g.tokens = o.tokens;
  const gpt::model model(g.model, g.model_seed);
  const int decode_repeats = std::max(o.repeats, 200);
  const auto read = experiments::time_weight_read(model, 20);
  auto cached = experiments::run_generation(model, g);
  for (int r = 1; r < decode_repeats; ++r) {
    auto f = experiments::run_generation(model, g);
    if (f.step_us < cached.step_us) cached = std::move(f);
  }
  const double step_us = cached.step_us;
  out["decode"] = {{"tokens", o.tokens},
                   {"repeats", decode_repeats},
                   {"first_token_ms", cached.first_token_ms},
                   {"step_us", step_us},
                   {"floor_us", read.us},
                   {"products_us", read.products_us},
                   {"weight_bytes", read.bytes},
                   {"step_over_floor", step_us / read.us}};

  // -- quantized matvec against fp32
  json quant = json::array();
  for (const char* format : {"q8_0", "q4_0"}) {
    experiments::quant_config q;
    q.rows = q.cols = o.matvec_size;
    q.format = format;
    q.repeats = std::max(o.repeats, 7);
    const auto f = experiments::run_quant(q);
    quant.push_back({{"format", format},
                     {"matvec_ms", f.matvec.median_ms},
                     {"fp32_ms", f.fp32_matvec.median_ms},
                     {"speedup", f.speedup}});
  }
  out["quant_matvec"] = {{"rows", o.matvec_size}, {"cols", o.matvec_size}, {"formats", quant}};
  out["load_after"] = load_average();

  if (o.json) {
    std::cout << out.dump(2) << '\n';
    return;
  }
  std::printf("memlab report: %s, %d cores; OpenBLAS core %s\n",
              out["cpu"].get<std::string>().c_str(), parallel::max_threads(),
              blas::corename().c_str());
  std::printf("load average (1, 5, 15 min): %s before, %s after\n",
              out["load_before"].get<std::string>().c_str(),
              out["load_after"].get<std::string>().c_str());
  std::printf("attention, seq %d, head_dim 64, 4 heads, not causal (GFLOP/s, median of %d)\n",
              o.seq, o.repeats);
  std::printf("  %-8s %10s %10s %10s %10s %14s %12s\n", "threads", "naive", "OpenBLAS", "flash",
              "sgemm", "flash/OpenBLAS", "flash/sgemm");
  for (const auto& r : attention) {
    auto g = [&](const char* key) {
      return r[key].is_null() ? std::string("-")
                              : number_text("%.1f", r[key]["gflops"].get<double>());
    };
    std::printf("  %-8d %10s %10s %10s %10.1f %13.2fx %11.0f%%\n", r["threads"].get<int>(),
                g("naive").c_str(), g("naive_blas").c_str(), g("flash").c_str(),
                r["sgemm_gflops"].get<double>(), r["flash_over_naive_blas"].get<double>(),
                100 * r["flash_over_sgemm"].get<double>());
  }
  if (attention.size() > 1)
    std::printf("  flash on %d threads: %.2fx one thread\n", o.threads,
                attention.back()["flash_over_one_thread"].get<double>());
  std::printf("decoding the tiny GPT with a KV cache, %d tokens (fastest of %d)\n", o.tokens,
              decode_repeats);
  std::printf("  cached step %.1f us, weight-read floor %.1f us (%s): %.2fx the floor\n", step_us,
              read.us, bytes_text(double(read.bytes)).c_str(), step_us / read.us);
  std::printf(
      "  its products alone (every x W and the head) %.1f us, %.2fx the floor; the rest of\n"
      "  a step (attention over the cache, norms, GELU, sampling) %.1f us\n",
      read.products_us, read.products_us / read.us, step_us - read.products_us);
  std::printf(
      "  (a step is a token after the first; the first took %.2f ms: the prompt's prefill)\n",
      cached.first_token_ms);
  std::printf("quantized matvec, %d x %d (median)\n", o.matvec_size, o.matvec_size);
  for (const auto& r : quant)
    std::printf("  %-6s %8.3f ms, fp32 %8.3f ms: %.2fx\n", r["format"].get<std::string>().c_str(),
                r["matvec_ms"].get<double>(), r["fp32_ms"].get<double>(),
                r["speedup"].get<double>());
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto o = std::make_shared<report_options>();
  auto* cmd = app.add_subcommand(
      "report", "the headline figures against OpenBLAS, the weight-read floor and fp32");
  cmd->add_option("--seq", o->seq, "attention sequence length")->capture_default_str();
  cmd->add_option("--threads", o->threads,
                  "threads of the second attention run (default: all cores)")
      ->capture_default_str();
  cmd->add_option("--repeats", o->repeats, "timed runs per figure")->capture_default_str();
  cmd->add_option("--sgemm", o->sgemm, "size n of the n^3 sgemm roofline")->capture_default_str();
  cmd->add_option("--tokens", o->tokens, "tokens decoded with a KV cache")->capture_default_str();
  cmd->add_option("--matvec", o->matvec_size, "rows and cols of the quantized matvec")
      ->capture_default_str();
  cmd->add_flag("!--no-naive", o->memlab_naive, "skip memlab's naive attention (slow at 4096)");
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] { run_report(*o); });
}

}  // namespace memlab::bench
