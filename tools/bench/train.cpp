// memlab-bench train — next-token training of the tiny GPT on a text with AdamW
// (experiments::run_training, train/experiment.hpp); prints the loss curve, a
// greedy sample, and saves the weights.
//
//   memlab-bench train [--text data/corpus.txt] [--steps 300] [--batch 8] [--seq 64]
//                      [--layers 2 --d-model 64 --heads 4 --d-ff 256 --max-seq 128]
//                      [--lr 3e-3] [--save tiny-gpt.bin] [--json]
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <utility>

#include "base/error.hpp"
#include "commands.hpp"
#include "train/experiment.hpp"

namespace memlab::bench {

void add_train_command(CLI::App& app) {
  struct options {
    experiments::training_config config;
    std::string text_path = "data/corpus.txt", save;
    int every = 25;
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto& t = o->config;
  auto* cmd = app.add_subcommand("train", "train the tiny GPT on a text with AdamW");
  cmd->add_option("--text", o->text_path, "training text (bytes)")->capture_default_str();
  cmd->add_option("--steps", t.steps, "optimizer steps")->capture_default_str();
  cmd->add_option("--batch", t.batch, "sequences per step")->capture_default_str();
  cmd->add_option("--seq", t.seq, "tokens per sequence")->capture_default_str();
  cmd->add_option("--layers", t.model.layers, "decoder layers")->capture_default_str();
  cmd->add_option("--d-model", t.model.d_model, "model width")->capture_default_str();
  cmd->add_option("--heads", t.model.heads, "query heads")->capture_default_str();
  cmd->add_option("--kv-heads", t.model.kv_heads, "key/value heads")->capture_default_str();
  cmd->add_option("--d-ff", t.model.d_ff, "MLP hidden size")->capture_default_str();
  cmd->add_option("--max-seq", t.model.max_seq, "positions")->capture_default_str();
  cmd->add_option("--lr", t.lr, "AdamW learning rate")->capture_default_str();
  cmd->add_option("--seed", t.seed, "initial weights and batches")->capture_default_str();
  cmd->add_option("--every", o->every, "print the loss every N steps")->capture_default_str();
  cmd->add_option("--prompt", t.prompt, "prompt of the greedy sample")->capture_default_str();
  cmd->add_option("--save", o->save, "write the trained weights here (gpt.hpp format)");
  cmd->add_flag("--json", o->json, "print JSON instead of text");
  cmd->callback([o] {
    std::ifstream in(o->text_path, std::ios::binary);
    require(bool(in), "text", o->text_path, "a readable file");
    auto config = o->config;
    config.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const auto f = experiments::run_training(config, [&](int step, double loss) {
      if (!o->json && (step % o->every == 0 || step == 1))
        std::printf("step %5d  loss %.4f\n", step, loss);
    });
    const auto& r = f.trained;
    const std::string sample_text = gpt::decode(f.sample);
    if (!o->save.empty()) r.model.save(o->save);
    nlohmann::json checkpointing = nlohmann::json::array();
    for (const auto& c : f.checkpointing) {
      checkpointing.push_back({{"attention", c.attention},
                               {"policy", c.policy},
                               {"peak_bytes", c.peak_bytes},
                               {"recomputed_layers", c.recomputed_layers}});
      if (!o->json)
        std::printf(
            "one sequence, %s attention, checkpointing %-5s: peak %s, %d layers recomputed\n",
            c.attention.c_str(), c.policy.c_str(), bytes_text(double(c.peak_bytes)).c_str(),
            c.recomputed_layers);
    }
    if (o->json) {
      std::cout << nlohmann::json{{"parameters", f.parameters},
                                  {"losses", r.losses},
                                  {"initial_eval_loss", r.initial_eval_loss},
                                  {"final_eval_loss", r.final_eval_loss},
                                  {"ms", r.ms},
                                  {"sample", sample_text},
                                  {"checkpointing", checkpointing}}
                       .dump(2)
                << '\n';
      return;
    }
    std::printf("parameters %zu, %.1f s; eval loss %.4f -> %.4f (nats per byte)\n", f.parameters,
                r.ms / 1000, r.initial_eval_loss, r.final_eval_loss);
    std::printf("greedy sample: %s\n", sample_text.c_str());
    if (!o->save.empty()) std::printf("saved %s\n", o->save.c_str());
  });
}

}  // namespace memlab::bench
