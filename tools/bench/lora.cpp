// memlab-bench lora — memory of LoRA and QLoRA fine-tuning of the tiny GPT against
// full fine-tuning (train/lora.hpp), and a few adapter training steps.
//
//   memlab-bench lora [--rank 8] [--alpha 16] [--layers 4 --d-model 128 ...]
//                     [--text data/corpus.txt --steps 0] [--json]
#include "train/lora.hpp"

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "base/error.hpp"
#include "base/random.hpp"
#include "commands.hpp"

namespace memlab::bench {

void add_lora_command(CLI::App& app) {
  struct options {
    gpt::config model;
    int rank = 8, steps = 0, seq = 32, batch = 4;
    float alpha = 16;
    std::string text_path = "data/corpus.txt";
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto& m = o->model;
  auto* cmd = app.add_subcommand("lora", "LoRA / QLoRA memory against full fine-tuning");
  cmd->add_option("--rank", o->rank, "adapter rank")->capture_default_str();
  cmd->add_option("--alpha", o->alpha, "adapter scale numerator (scale = alpha / rank)")
      ->capture_default_str();
  cmd->add_option("--layers", m.layers, "decoder layers")->capture_default_str();
  cmd->add_option("--d-model", m.d_model, "model width")->capture_default_str();
  cmd->add_option("--heads", m.heads, "query heads")->capture_default_str();
  cmd->add_option("--d-ff", m.d_ff, "MLP hidden size")->capture_default_str();
  cmd->add_option("--steps", o->steps, "adapter training steps on the text (0: memory only)")
      ->capture_default_str();
  cmd->add_option("--text", o->text_path, "training text")->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] {
    auto c = o->model;
    c.kv_heads = c.heads;
    const gpt::model base(c, 1);
    lora::model(base, o->rank, o->alpha, false, 2);  // a bad rank fails before any output
    nlohmann::json rows = nlohmann::json::array();
    if (!o->json)
      std::printf("%-8s %12s %12s %14s %12s %12s %10s\n", "method", "params", "trainable",
                  "base bytes", "train state", "total", "vs full");
    std::string text;
    if (o->steps > 0) {
      std::ifstream in(o->text_path, std::ios::binary);
      require(bool(in), "text", o->text_path, "a readable file");
      text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    for (bool quantized : {false, true}) {
      lora::model l(base, o->rank, o->alpha, quantized, 2);
      const auto f = l.memory();
      std::vector<double> losses;
      if (o->steps > 0) {
        const auto all = gpt::encode(text);
        const auto seq = require_positive(o->seq, "seq");
        require(all.size() > seq + 1, "text", all.size(), "longer than seq + 1");
        rng gen(3);
        for (int s = 0; s < o->steps; ++s) {
          std::vector<std::vector<int>> batch;
          for (int b = 0; b < o->batch; ++b) {
            const std::size_t at = std::size_t(gen.next_u64() % (all.size() - seq - 1));
            batch.emplace_back(all.begin() + long(at), all.begin() + long(at + seq + 1));
          }
          losses.push_back(l.train_step(batch));
        }
      }
      const double saving = 1.0 - double(f.total_bytes()) / double(f.full_finetune_bytes);
      const char* name = quantized ? "QLoRA" : "LoRA";
      if (o->json) {
        rows.push_back({{"method", name},
                        {"rank", o->rank},
                        {"parameters", f.parameters},
                        {"adapter_parameters", f.adapter_parameters},
                        {"base_bytes", f.base_bytes},
                        {"trainable_state_bytes", f.trainable_state_bytes},
                        {"total_bytes", f.total_bytes()},
                        {"full_finetune_bytes", f.full_finetune_bytes},
                        {"saving_vs_full", saving},
                        {"losses", losses}});
        continue;
      }
      std::printf("%-8s %12zu %12zu %14s %12s %12s %9.1f%%\n", name, f.parameters,
                  f.adapter_parameters, bytes_text(double(f.base_bytes)).c_str(),
                  bytes_text(double(f.trainable_state_bytes)).c_str(),
                  bytes_text(double(f.total_bytes())).c_str(), -100.0 * saving);
      if (!losses.empty())
        std::printf("         loss %.4f -> %.4f over %d steps\n", losses.front(), losses.back(),
                    o->steps);
    }
    if (!o->json)
      std::printf("full fine-tune: %s (weights, gradients, AdamW m and v: 16 bytes a parameter)\n",
                  bytes_text(16.0 * double(base.parameter_count())).c_str());
    if (o->json) std::cout << rows.dump(2) << '\n';
  });
}

}  // namespace memlab::bench
