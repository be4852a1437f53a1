// memlab-bench checkpoint — activation checkpointing on a stack of residual MLP
// blocks: peak activation bytes (measured and by the formula in
// train/checkpoint.hpp), recomputed blocks and step time per policy, against
// storing everything.
//
//   memlab-bench checkpoint --layers 16 --policy sqrt|none|every:K|set:I,J|all
//                           [--batch 32 --width 128 --hidden 512] [--repeats 5] [--json]
#include "train/checkpoint.hpp"

#include <cmath>
#include <iostream>
#include <memory>

#include "base/error.hpp"
#include "base/random.hpp"
#include "commands.hpp"

namespace memlab::bench {

void add_checkpoint_command(CLI::App& app) {
  struct options {
    int layers = 16, batch = 32, width = 128, hidden = 512, repeats = 5;
    std::string policy = "sqrt";
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd =
      app.add_subcommand("checkpoint", "activation checkpointing: memory and time per policy");
  cmd->add_option("--layers", o->layers, "blocks in the stack")->capture_default_str();
  cmd->add_option("--policy", o->policy, "none, sqrt, every:K, set:I,J,... or all")
      ->capture_default_str();
  cmd->add_option("--batch", o->batch, "rows per step")->capture_default_str();
  cmd->add_option("--width", o->width, "block width d")->capture_default_str();
  cmd->add_option("--hidden", o->hidden, "MLP hidden size f")->capture_default_str();
  cmd->add_option("--repeats", o->repeats, "timed steps per policy (median)")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] {
    using namespace checkpoint;
    const mlp_stack stack(o->layers, o->width, o->hidden, 1);
    const auto batch = memlab::require_positive(o->batch, "batch");
    rng gen(2);
    const auto x = random_normal<2>({batch, stack.width()}, gen);
    const auto target = random_normal<2>({batch, stack.width()}, gen);
    std::vector<policy> policies{policy::none()};
    if (o->policy == "all")
      for (int k : {1, 2}) policies.push_back(policy::every(k));
    if (o->policy == "all")
      policies.push_back(policy::sqrt_n());
    else if (o->policy != "none")
      policies.push_back(policy::parse(o->policy));

    for (const auto& p : policies) checkpoints(p, o->layers);  // bad policies fail before any run
    nlohmann::json rows = nlohmann::json::array();
    if (!o->json)
      std::printf("%-12s %6s %12s %12s %8s %10s %10s %9s\n", "policy", "ckpts", "peak", "formula",
                  "vs none", "recompute", "step ms", "overhead");
    std::size_t none_peak = 0;
    double none_ms = 0;
    for (const auto& p : policies) {
      gradients g(stack);
      step_result r;
      const auto f = measure(o->repeats, [&] {
        g.zero();
        r = train_step(stack, x, target, p, g);
      });
      const auto formula =
          peak_activation_bytes(r.checkpoints, o->layers, batch, stack.width(), stack.hidden());
      if (p.what == policy::kind::none) none_peak = r.peak_bytes, none_ms = f.median_ms;
      const double ratio = double(r.peak_bytes) / double(none_peak);
      const double overhead = f.median_ms / none_ms - 1.0;
      if (o->json) {
        rows.push_back({{"policy", p.name()},
                        {"checkpoints", r.checkpoints},
                        {"peak_bytes", r.peak_bytes},
                        {"formula_bytes", formula},
                        {"peak_vs_none", ratio},
                        {"recomputed_blocks", r.recomputed_blocks},
                        {"step_ms", f.median_ms},
                        {"time_overhead", overhead},
                        {"loss", r.loss}});
        continue;
      }
      std::printf("%-12s %6zu %12s %12s %7.1f%% %10d %10.2f %8.1f%%\n", p.name().c_str(),
                  r.checkpoints.size(), bytes_text(double(r.peak_bytes)).c_str(),
                  bytes_text(double(formula)).c_str(), 100.0 * ratio, r.recomputed_blocks,
                  f.median_ms, 100.0 * overhead);
    }
    if (o->json) std::cout << rows.dump(2) << '\n';
  });
}

}  // namespace memlab::bench
