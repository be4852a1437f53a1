// memlab-bench flash-backward — a training step of one attention layer (forward
// then backward), naive against flash: time, peak heap, gradient difference.
#include <cmath>
#include <iostream>
#include <memory>

#include "attention/experiment.hpp"
#include "commands.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

void print(const experiments::flash_backward_figures& f, bool as_json) {
  const auto& c = f.config;
  if (as_json) {
    const json out = {
        {"experiment", "flash-backward"},
        {"config", to_json(c)},
        {"naive", to_json(f.naive)},
        {"flash", to_json(f.flash)},
        {"max_rel_diff", std::isnan(f.max_rel_diff) ? json(nullptr) : json(f.max_rel_diff)},
        {"flops", f.flops}};
    std::cout << out.dump(2) << '\n';
    return;
  }
  std::printf(
      "attention forward + backward: heads %d, kv_heads %d, seq %d, head_dim %d, %s, tiles "
      "%dx%d, %d repeats\n",
      c.heads, c.kv_heads, c.seq, c.head_dim, c.causal ? "causal" : "not causal", c.block_q,
      c.block_kv, c.repeats);
  print_naive_vs_flash(f.naive, f.flash);
  std::printf("  %-20s %14s\n", "dQ,dK,dV rel diff",
              std::isnan(f.max_rel_diff) ? "-" : number_text("%.3g", f.max_rel_diff).c_str());
  std::printf("  %-20s %14s\n", "flops", number_text("%.4g", f.flops).c_str());
}

}  // namespace

void add_flash_backward_command(CLI::App& app) {
  auto o = std::make_shared<attention_options>();
  auto* cmd = app.add_subcommand(
      "flash-backward", "attention forward + backward: naive (P kept) vs flash (recomputed)");
  add_attention_options(cmd, *o);
  cmd->callback(
      [cmd, o] { print(experiments::run_flash_backward(attention_config_of(cmd, *o)), o->json); });
}

}  // namespace memlab::bench
