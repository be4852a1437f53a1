// memlab-bench lora — memory of LoRA and QLoRA fine-tuning of the tiny GPT against
// full fine-tuning (experiments::run_lora, train/experiment.hpp), and a few
// adapter training steps.
//
//   memlab-bench lora [--rank 8] [--alpha 16] [--layers 4 --d-model 128 ...]
//                     [--text data/corpus.txt --steps 0] [--json]
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "base/error.hpp"
#include "commands.hpp"
#include "train/experiment.hpp"

namespace memlab::bench {

void add_lora_command(CLI::App& app) {
  struct options {
    experiments::lora_config config;
    std::string text_path = "data/corpus.txt";
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto& c = o->config;
  auto* cmd = app.add_subcommand("lora", "LoRA / QLoRA memory against full fine-tuning");
  cmd->add_option("--rank", c.rank, "adapter rank")->capture_default_str();
  cmd->add_option("--alpha", c.alpha, "adapter scale numerator (scale = alpha / rank)")
      ->capture_default_str();
  cmd->add_option("--layers", c.model.layers, "decoder layers")->capture_default_str();
  cmd->add_option("--d-model", c.model.d_model, "model width")->capture_default_str();
  cmd->add_option("--heads", c.model.heads, "query heads")->capture_default_str();
  cmd->add_option("--d-ff", c.model.d_ff, "MLP hidden size")->capture_default_str();
  cmd->add_option("--steps", c.steps, "adapter training steps on the text (0: memory only)")
      ->capture_default_str();
  cmd->add_option("--text", o->text_path, "training text")->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] {
    auto config = o->config;
    config.model.kv_heads = config.model.heads;  // MHA: the CLI has no --kv-heads
    if (config.steps > 0) {
      std::ifstream in(o->text_path, std::ios::binary);
      require(bool(in), "text", o->text_path, "a readable file");
      config.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    const auto rows = experiments::run_lora(config);
    if (o->json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& f : rows)
        out.push_back({{"method", f.method},
                       {"rank", f.rank},
                       {"parameters", f.memory.parameters},
                       {"adapter_parameters", f.memory.adapter_parameters},
                       {"base_bytes", f.memory.base_bytes},
                       {"trainable_state_bytes", f.memory.trainable_state_bytes},
                       {"total_bytes", f.memory.total_bytes()},
                       {"full_finetune_bytes", f.memory.full_finetune_bytes},
                       {"saving_vs_full", f.saving_vs_full},
                       {"losses", f.losses}});
      std::cout << out.dump(2) << '\n';
      return;
    }
    std::printf("%-8s %12s %12s %14s %12s %12s %10s\n", "method", "params", "trainable",
                "base bytes", "train state", "total", "vs full");
    for (const auto& f : rows) {
      const auto& m = f.memory;
      std::printf("%-8s %12zu %12zu %14s %12s %12s %9.1f%%\n", f.method.c_str(), m.parameters,
                  m.adapter_parameters, bytes_text(double(m.base_bytes)).c_str(),
                  bytes_text(double(m.trainable_state_bytes)).c_str(),
                  bytes_text(double(m.total_bytes())).c_str(), -100.0 * f.saving_vs_full);
      if (!f.losses.empty())
        std::printf("         loss %.4f -> %.4f over %d steps\n", f.losses.front(), f.losses.back(),
                    config.steps);
    }
    std::printf("full fine-tune: %s (weights, gradients, AdamW m and v: 16 bytes a parameter)\n",
                bytes_text(double(rows.front().memory.full_finetune_bytes)).c_str());
  });
}

}  // namespace memlab::bench
