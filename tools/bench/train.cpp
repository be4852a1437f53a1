// memlab-bench train — next-token training of the tiny GPT on a text with AdamW
// (train/train.hpp); prints the loss curve, a greedy sample, and saves the weights.
//
//   memlab-bench train [--text data/corpus.txt] [--steps 300] [--batch 8] [--seq 64]
//                      [--layers 2 --d-model 64 --heads 4 --d-ff 256 --max-seq 128]
//                      [--lr 3e-3] [--save tiny-gpt.bin] [--json]
#include "train/train.hpp"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <utility>

#include "base/error.hpp"
#include "commands.hpp"
#include "model/generate.hpp"

namespace memlab::bench {

void add_train_command(CLI::App& app) {
  struct options {
    train::options train;
    std::string text_path = "data/corpus.txt", save, prompt = "The ";
    int every = 25;
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto& t = o->train;
  t.steps = 300;
  t.model.layers = 2, t.model.d_model = 64, t.model.heads = 4, t.model.kv_heads = 4;
  t.model.d_ff = 256, t.model.max_seq = 128;
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
  cmd->add_option("--lr", t.adam.lr, "AdamW learning rate")->capture_default_str();
  cmd->add_option("--seed", t.seed, "initial weights and batches")->capture_default_str();
  cmd->add_option("--every", o->every, "print the loss every N steps")->capture_default_str();
  cmd->add_option("--prompt", o->prompt, "prompt of the greedy sample")->capture_default_str();
  cmd->add_option("--save", o->save, "write the trained weights here (gpt.hpp format)");
  cmd->add_flag("--json", o->json, "print JSON instead of text");
  cmd->callback([o] {
    std::ifstream in(o->text_path, std::ios::binary);
    require(bool(in), "text", o->text_path, "a readable file");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto r = train::run(text, o->train, [&](int step, double loss) {
      if (!o->json && (step % o->every == 0 || step == 1))
        std::printf("step %5d  loss %.4f\n", step, loss);
    });
    sampling greedy;
    const auto prompt = gpt::encode(o->prompt);
    const int room = o->train.model.max_seq - int(prompt.size());
    const auto sample = generate(r.model, prompt, std::min(200, room), true, greedy);
    const std::string sample_text = o->prompt + gpt::decode(sample.tokens);
    if (!o->save.empty()) r.model.save(o->save);
    // One sequence's forward + backward with and without checkpointing the layers,
    // and with naive attention (its probabilities kept) instead of flash.
    const auto window = gpt::encode(text.substr(0, std::size_t(o->train.seq) + 1));
    nlohmann::json checkpointing = nlohmann::json::array();
    using kernel = train::attention_kernel;
    const std::pair<kernel, checkpoint::policy> runs[] = {
        {kernel::flash, checkpoint::policy::none()},
        {kernel::flash, checkpoint::policy::sqrt_n()},
        {kernel::naive, checkpoint::policy::none()}};
    for (const auto& [attention, p] : runs) {
      auto g = train::zeros_like(r.model.params());
      train::checkpoint_figures f;
      train::loss_and_gradient(r.model.cfg(), r.model.params(), window, g, 1.0f, p, &f, attention);
      const char* name = attention == kernel::flash ? "flash" : "naive";
      checkpointing.push_back({{"attention", name},
                               {"policy", p.name()},
                               {"peak_bytes", f.peak_bytes},
                               {"recomputed_layers", f.recomputed_layers}});
      if (!o->json)
        std::printf(
            "one sequence, %s attention, checkpointing %-5s: peak %s, %d layers recomputed\n", name,
            p.name().c_str(), bytes_text(double(f.peak_bytes)).c_str(), f.recomputed_layers);
    }
    if (o->json) {
      std::cout << nlohmann::json{{"parameters", r.model.parameter_count()},
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
    std::printf("parameters %zu, %.1f s; eval loss %.4f -> %.4f (nats per byte)\n",
                r.model.parameter_count(), r.ms / 1000, r.initial_eval_loss, r.final_eval_loss);
    std::printf("greedy sample: %s\n", sample_text.c_str());
    if (!o->save.empty()) std::printf("saved %s\n", o->save.c_str());
  });
}

}  // namespace memlab::bench
