// memlab-bench quant-gpt — the tiny GPT with quantized linear weights against fp32.
//
//   memlab-bench quant-gpt [--format q8_0|all] [--layers 4 --d-model 128 ...] [--json]
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "quant/experiment.hpp"
#include "quant/matrix.hpp"

namespace memlab::bench {

void add_quant_gpt_command(CLI::App& app) {
  struct options {
    experiments::quantized_gpt_config config;
    std::string format = "all";
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto& m = o->config.model;
  auto* cmd = app.add_subcommand("quant-gpt", "the tiny GPT with quantized weights against fp32");
  cmd->add_option("--format", o->format, "a format name, or all")->capture_default_str();
  cmd->add_option("--layers", m.layers, "decoder layers")->capture_default_str();
  cmd->add_option("--d-model", m.d_model, "model width")->capture_default_str();
  cmd->add_option("--heads", m.heads, "query heads")->capture_default_str();
  cmd->add_option("--d-ff", m.d_ff, "MLP hidden size")->capture_default_str();
  cmd->add_option("--tokens", o->config.tokens, "tokens decoded to time")->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([cmd, o] {
    auto config = o->config;
    config.model.kv_heads = config.model.heads;
    const std::vector<std::string> formats =
        o->format == "all" ? quant::format_names() : std::vector<std::string>{o->format};
    nlohmann::json rows = nlohmann::json::array();
    if (!o->json)
      std::printf("%-10s %12s %9s %12s %12s %10s %12s %12s\n", "format", "weights", "vs fp32",
                  "max |dlogit|", "mean |dlogit|", "next tok", "tok/s", "fp32 tok/s");
    for (const auto& name : formats) {
      config.format = name;
      const auto f = experiments::run_quantized_gpt(config);
      if (o->json) {
        rows.push_back({{"format", name},
                        {"weight_bytes", f.weight_bytes},
                        {"fp32_weight_bytes", f.fp32_weight_bytes},
                        {"max_logit_diff", f.max_logit_diff},
                        {"mean_logit_diff", f.mean_logit_diff},
                        {"logit_scale", f.logit_scale},
                        {"next_token_agreement", f.next_token_agreement},
                        {"tokens_per_second", f.tokens_per_second},
                        {"fp32_tokens_per_second", f.fp32_tokens_per_second}});
        continue;
      }
      std::printf("%-10s %12s %8.1f%% %12.4f %12.5f %9.1f%% %12.0f %12.0f\n", name.c_str(),
                  bytes_text(double(f.weight_bytes)).c_str(),
                  100.0 * double(f.weight_bytes) / double(f.fp32_weight_bytes), f.max_logit_diff,
                  f.mean_logit_diff, 100.0 * f.next_token_agreement, f.tokens_per_second,
                  f.fp32_tokens_per_second);
    }
    if (o->json) std::cout << rows.dump(2) << '\n';
    (void)cmd;
  });
}

}  // namespace memlab::bench
