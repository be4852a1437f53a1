// memlab-bench — run core's experiments natively and print their figures.
//
//   memlab-bench attention --seq 1024 --head-dim 64 --heads 4 [--kv-heads N]
//                          [--causal] [--block N] [--repeats N] [--json]
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "memlab/experiments.hpp"

namespace {

using memlab::run_figures;
using nlohmann::json;

std::string bytes_text(double bytes) {
  if (bytes < 0) return "n/a";
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (bytes >= 1024 && u < 3) bytes /= 1024, ++u;
  char text[32];
  std::snprintf(text, sizeof text, u == 0 ? "%.0f %s" : "%.2f %s", bytes, units[u]);
  return text;
}

json to_json(const run_figures& f) {
  if (!f.ran) return nullptr;
  return {{"median_ms", f.median_ms},
          {"gflops", f.gflops},
          {"peak_bytes", f.peak_bytes},
          {"peak_rss_bytes", f.peak_rss_bytes < 0 ? json(nullptr) : json(f.peak_rss_bytes)}};
}

void print_attention(const memlab::experiments::attention_figures& f, bool as_json) {
  const auto& c = f.config;
  if (as_json) {
    json out = {{"experiment", "attention"},
                {"config", {{"seq", c.seq}, {"head_dim", c.head_dim}, {"heads", c.heads},
                            {"kv_heads", c.kv_heads}, {"causal", c.causal},
                            {"block_q", c.block_q}, {"block_kv", c.block_kv},
                            {"repeats", c.repeats}, {"seed", c.seed}}},
                {"naive", to_json(f.naive)},
                {"flash", to_json(f.flash)},
                {"max_abs_diff", std::isnan(f.max_abs_diff) ? json(nullptr) : json(f.max_abs_diff)},
                {"kv_bytes", f.kv_bytes},
                {"flops", f.flops}};
    std::cout << out.dump(2) << '\n';
    return;
  }
  std::printf("attention: heads %d, kv_heads %d, seq %d, head_dim %d, %s, tiles %dx%d, %d repeats\n",
              c.heads, c.kv_heads, c.seq, c.head_dim, c.causal ? "causal" : "not causal",
              c.block_q, c.block_kv, c.repeats);
  auto row = [&](const char* name, auto&& value) {
    std::printf("  %-20s %14s %14s\n", name, value(f.naive).c_str(), value(f.flash).c_str());
  };
  auto number = [](const char* format, double x) {
    char text[32];
    std::snprintf(text, sizeof text, format, x);
    return std::string(text);
  };
  std::printf("  %-20s %14s %14s\n", "", "naive", "flash");
  row("time (median)", [&](const run_figures& r) { return r.ran ? number("%.3f ms", r.median_ms) : "skipped"; });
  row("GFLOP/s", [&](const run_figures& r) { return r.ran ? number("%.2f", r.gflops) : "-"; });
  row("tracked peak heap", [&](const run_figures& r) { return r.ran ? bytes_text(double(r.peak_bytes)) : "-"; });
  row("process peak RSS", [&](const run_figures& r) { return r.ran ? bytes_text(double(r.peak_rss_bytes)) : "-"; });
  std::printf("  %-20s %14s\n", "max abs diff", std::isnan(f.max_abs_diff) ? "-" : number("%.3g", f.max_abs_diff).c_str());
  std::printf("  %-20s %14s\n", "K+V bytes", bytes_text(double(f.kv_bytes)).c_str());
  std::printf("  %-20s %14s\n", "flops", number("%.4g", f.flops).c_str());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"memlab-bench: run memlab's experiments natively and print their figures"};
  app.require_subcommand(1);
  bool as_json = false;

  memlab::experiments::attention_config attention;
  int block = 0;
  bool no_naive = false;
  int kv_heads = 0;
  auto* cmd = app.add_subcommand("attention", "flash vs naive attention, MHA/GQA/MQA");
  cmd->add_option("--seq", attention.seq, "sequence length")->capture_default_str();
  cmd->add_option("--head-dim", attention.head_dim, "size of one head")->capture_default_str();
  cmd->add_option("--heads", attention.heads, "query heads")->capture_default_str();
  cmd->add_option("--kv-heads", kv_heads, "key/value heads, a divisor of heads (default: heads)");
  cmd->add_flag("--causal", attention.causal, "causal mask (tiles above the diagonal skipped)");
  cmd->add_option("--block", block, "tile size for both query rows and keys (default 64)");
  cmd->add_option("--block-q", attention.block_q, "query rows per tile")->capture_default_str();
  cmd->add_option("--block-kv", attention.block_kv, "keys per tile")->capture_default_str();
  cmd->add_option("--repeats", attention.repeats, "runs per implementation; the median is reported")->capture_default_str();
  cmd->add_option("--seed", attention.seed, "seed of the random inputs")->capture_default_str();
  cmd->add_flag("--no-naive", no_naive, "skip the naive baseline");
  cmd->add_flag("--json", as_json, "print JSON instead of a table");

  CLI11_PARSE(app, argc, argv);

  try {
    if (cmd->parsed()) {
      attention.kv_heads = cmd->count("--kv-heads") ? kv_heads : attention.heads;
      if (cmd->count("--block")) attention.block_q = attention.block_kv = block;
      attention.run_naive = !no_naive;
      print_attention(memlab::experiments::run_attention(attention), as_json);
    }
  } catch (const std::exception& e) {
    std::cerr << "memlab-bench: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
