// memlab-bench checkpoint — activation checkpointing on a stack of residual MLP
// blocks: peak activation bytes (measured and by the formula in
// train/checkpoint.hpp), recomputed blocks and step time per policy, against
// storing everything (experiments::run_checkpoint, train/experiment.hpp).
//
//   memlab-bench checkpoint --layers 16 --policy sqrt|none|every:K|set:I,J|all
//                           [--batch 32 --width 128 --hidden 512] [--repeats 5] [--json]
#include "train/checkpoint.hpp"

#include <iostream>
#include <memory>

#include "commands.hpp"
#include "train/experiment.hpp"

namespace memlab::bench {

void add_checkpoint_command(CLI::App& app) {
  struct options {
    experiments::checkpoint_config config;
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto& c = o->config;
  auto* cmd =
      app.add_subcommand("checkpoint", "activation checkpointing: memory and time per policy");
  cmd->add_option("--layers", c.layers, "blocks in the stack")->capture_default_str();
  cmd->add_option("--policy", c.policy, "none, sqrt, every:K, set:I,J,... or all")
      ->capture_default_str();
  cmd->add_option("--batch", c.batch, "rows per step")->capture_default_str();
  cmd->add_option("--width", c.width, "block width d")->capture_default_str();
  cmd->add_option("--hidden", c.hidden, "MLP hidden size f")->capture_default_str();
  cmd->add_option("--repeats", c.repeats, "timed steps per policy (median)")->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] {
    // none first, as the baseline of the ratios; "all" adds every:1, every:2 and sqrt.
    std::vector<std::string> policies{"none"};
    if (o->config.policy == "all")
      policies.insert(policies.end(), {"every:1", "every:2", "sqrt"});
    else if (o->config.policy != "none")
      policies.push_back(o->config.policy);
    for (const auto& p : policies)  // bad policies fail before any run
      checkpoint::checkpoints(checkpoint::policy::parse(p), o->config.layers);

    nlohmann::json rows = nlohmann::json::array();
    if (!o->json)
      std::printf("%-12s %6s %12s %12s %8s %10s %10s %9s\n", "policy", "ckpts", "peak", "formula",
                  "vs none", "recompute", "step ms", "overhead");
    std::size_t none_peak = 0;
    double none_ms = 0;
    for (const auto& p : policies) {
      auto config = o->config;
      config.policy = p;
      const auto f = experiments::run_checkpoint(config);
      if (p == "none") none_peak = f.peak_bytes, none_ms = f.step.median_ms;
      const double ratio = double(f.peak_bytes) / double(none_peak);
      const double overhead = f.step.median_ms / none_ms - 1.0;
      if (o->json) {
        rows.push_back({{"policy", f.policy},
                        {"checkpoints", f.checkpoints},
                        {"peak_bytes", f.peak_bytes},
                        {"formula_bytes", f.formula_bytes},
                        {"peak_vs_none", ratio},
                        {"recomputed_blocks", f.recomputed_blocks},
                        {"step_ms", f.step.median_ms},
                        {"time_overhead", overhead},
                        {"loss", f.loss}});
        continue;
      }
      std::printf("%-12s %6zu %12s %12s %7.1f%% %10d %10.2f %8.1f%%\n", f.policy.c_str(),
                  f.checkpoints.size(), bytes_text(double(f.peak_bytes)).c_str(),
                  bytes_text(double(f.formula_bytes)).c_str(), 100.0 * ratio, f.recomputed_blocks,
                  f.step.median_ms, 100.0 * overhead);
    }
    if (o->json) std::cout << rows.dump(2) << '\n';
  });
}

}  // namespace memlab::bench
