// memlab-bench attention — flash vs naive attention side by side.
#include <cmath>
#include <iostream>
#include <memory>

#include "attention/experiment.hpp"
#include "commands.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

void print(const experiments::attention_figures& f, bool as_json) {
  const auto& c = f.config;
  if (as_json) {
    const json out = {
        {"experiment", "attention"},
        {"config", to_json(c)},
        {"naive", to_json(f.naive)},
        {"flash", to_json(f.flash)},
        {"max_abs_diff", std::isnan(f.max_abs_diff) ? json(nullptr) : json(f.max_abs_diff)},
        {"kv_bytes", f.kv_bytes},
        {"flops", f.flops}};
    std::cout << out.dump(2) << '\n';
    return;
  }
  std::printf(
      "attention: heads %d, kv_heads %d, seq %d, head_dim %d, %s, tiles %dx%d, %d repeats\n",
      c.heads, c.kv_heads, c.seq, c.head_dim, c.causal ? "causal" : "not causal", c.block_q,
      c.block_kv, c.repeats);
  print_naive_vs_flash(f.naive, f.flash);
  std::printf("  %-20s %14s\n", "max abs diff",
              std::isnan(f.max_abs_diff) ? "-" : number_text("%.3g", f.max_abs_diff).c_str());
  std::printf("  %-20s %14s\n", "K+V bytes", bytes_text(double(f.kv_bytes)).c_str());
  std::printf("  %-20s %14s\n", "flops", number_text("%.4g", f.flops).c_str());
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
          {"block_kv", c.block_kv}, {"repeats", c.repeats},   {"seed", c.seed}};
}

void print_naive_vs_flash(const run_figures& naive, const run_figures& flash) {
  auto row = [&](const char* name, auto&& value) {
    std::printf("  %-20s %14s %14s\n", name, value(naive).c_str(), value(flash).c_str());
  };
  auto ran = [](const run_figures& r, std::string text) { return r.ran ? text : "-"; };
  std::printf("  %-20s %14s %14s\n", "", "naive", "flash");
  row("time (median)",
      [&](const run_figures& r) { return ran(r, number_text("%.3f ms", r.median_ms)); });
  row("GFLOP/s", [&](const run_figures& r) { return ran(r, number_text("%.2f", r.gflops)); });
  row("tracked peak heap",
      [&](const run_figures& r) { return ran(r, bytes_text(double(r.peak_bytes))); });
  row("process peak RSS",
      [&](const run_figures& r) { return ran(r, bytes_text(double(r.peak_rss_bytes))); });
}

void add_attention_command(CLI::App& app) {
  auto o = std::make_shared<attention_options>();
  auto* cmd = app.add_subcommand("attention", "flash vs naive attention, MHA/GQA/MQA");
  add_attention_options(cmd, *o);
  cmd->callback(
      [cmd, o] { print(experiments::run_attention(attention_config_of(cmd, *o)), o->json); });
}

}  // namespace memlab::bench
