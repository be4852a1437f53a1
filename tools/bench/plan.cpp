// memlab-bench plan — the memory planner (planner/planner.hpp): a model's bytes
// for a recipe, broken down, and which devices it fits.
//
//   memlab-bench plan --preset NAME [--weights FMT] [--kv FMT] [--seq N] [--batch N]
//                     [--train none|full|lora|qlora] [--checkpoint POLICY] [--json]
//                     [--embeddings FMT] [--paged [--block N]] [--rank R]
//                     [--activation-bytes 2|4] [--attention flash|naive] [--check]
//
// --check runs the same recipe on the tiny GPT standing in for the preset
// (planner/experiment.hpp) and prints each predicted figure beside the tracker's.
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "planner/experiment.hpp"
#include "planner/planner.hpp"

namespace memlab::bench {

namespace {

std::string gb(std::uint64_t bytes) { return number_text("%.2f GB", double(bytes) / 1e9); }

std::string count(std::uint64_t n) {
  return n >= 1e9   ? number_text("%.2f B", double(n) / 1e9)
         : n >= 1e6 ? number_text("%.1f M", double(n) / 1e6)
                    : number_text("%.0f", double(n));
}

}  // namespace

void add_plan_command(CLI::App& app) {
  struct options {
    std::string preset = "llama-2-7b";
    planner::recipe how;
    bool json = false, check = false;
  };
  auto o = std::make_shared<options>();
  auto& r = o->how;
  auto* cmd = app.add_subcommand("plan", "memory planner: a model's bytes for a recipe");
  cmd->add_option("--preset", o->preset,
                  "gpt2, gpt3-175b, llama-2-7b, llama-2-13b, llama-2-70b, mixtral-8x7b")
      ->capture_default_str();
  cmd->add_option("--weights", r.weights,
                  "format of the linear layers: fp32 fp16 bf16 int8_sym int8_asym int4_sym "
                  "int4_asym q8_0 q4_0 q4_1 nf4 nf4_dq")
      ->capture_default_str();
  cmd->add_option("--embeddings", r.embeddings,
                  "format of embeddings and head (default: --weights)");
  cmd->add_option("--kv", r.kv, "KV cache format: fp32 fp16 bf16 q8_0 q4_0")->capture_default_str();
  cmd->add_flag("--paged", r.paged, "paged KV cache (blocks of --block tokens)");
  cmd->add_option("--block", r.block, "tokens per KV block (paged)")->capture_default_str();
  cmd->add_option("--seq", r.seq, "tokens per sequence")->capture_default_str();
  cmd->add_option("--batch", r.batch, "sequences at once")->capture_default_str();
  cmd->add_option("--train", r.train, "none, full, lora, qlora")->capture_default_str();
  cmd->add_option("--checkpoint", r.checkpoint, "none, sqrt, every:K, set:I,J (training)")
      ->capture_default_str();
  cmd->add_option("--attention", r.attention,
                  "training's attention: flash (keeps O, logsumexp) or naive (keeps P)")
      ->capture_default_str();
  cmd->add_option("--rank", r.rank, "LoRA/QLoRA rank")->capture_default_str();
  cmd->add_option("--activation-bytes", r.activation_bytes, "bytes per activation: 4 fp32, 2 bf16")
      ->capture_default_str();
  cmd->add_flag("--check", o->check, "also run the recipe on the tiny GPT and measure it");
  cmd->add_flag("--json", o->json, "print JSON");
  cmd->callback([o] {
    const auto shape = planner::preset(o->preset);
    const auto p = planner::plan(shape, o->how);
    experiments::planner_check_figures check;
    if (o->check) check = experiments::run_planner_check({shape, o->how, 1});
    const auto& b = p.bytes;
    std::vector<std::string> fits;
    for (const auto& d : planner::devices())
      if (b.total() <= d.bytes) fits.push_back(d.label);
    if (o->json) {
      nlohmann::json out = {{"preset", o->preset},
                            {"params_total", p.params_total},
                            {"params_active", p.params_active},
                            {"params_trainable", p.params_trainable},
                            {"bytes",
                             {{"weights", b.weights},
                              {"kv_cache", b.kv_cache},
                              {"activations", b.activations},
                              {"gradients", b.gradients},
                              {"optimizer", b.optimizer},
                              {"adapters", b.adapters},
                              {"total", b.total()}}},
                            {"weight_scales", b.weight_scales},
                            {"kv_tokens", p.kv_tokens},
                            {"fits", fits},
                            {"notes", p.notes}};
      if (o->check) {
        nlohmann::json rows = nlohmann::json::array();
        for (const auto& row : check.rows)
          rows.push_back({{"name", row.name},
                          {"predicted", row.predicted},
                          {"measured", row.was_measured ? nlohmann::json(row.measured) : nullptr}});
        out["tiny_gpt_check"] = {
            {"adapted", check.adapted}, {"rows", rows}, {"all_equal", check.all_equal}};
      }
      std::cout << out.dump(2) << '\n';
      return;
    }
    std::printf(
        "%s: %s parameters (%s active); weights %s, KV %s%s, seq %lld, batch %lld, "
        "train %s, checkpoint %s, attention %s\n",
        o->preset.c_str(), count(p.params_total).c_str(), count(p.params_active).c_str(),
        o->how.weights.c_str(), o->how.kv.c_str(), o->how.paged ? " paged" : "",
        static_cast<long long>(o->how.seq), static_cast<long long>(o->how.batch),
        o->how.train.c_str(), o->how.checkpoint.c_str(), o->how.attention.c_str());
    const std::pair<const char*, std::uint64_t> rows[] = {
        {"weights", b.weights},     {"  of which scales", b.weight_scales},
        {"KV cache", b.kv_cache},   {"activations", b.activations},
        {"gradients", b.gradients}, {"optimizer", b.optimizer},
        {"adapters", b.adapters},   {"total", b.total()}};
    for (const auto& [name, bytes] : rows)
      std::printf("  %-18s %12s  %s\n", name, gb(bytes).c_str(), bytes_text(double(bytes)).c_str());
    std::printf("  fits: %s\n", fits.empty() ? "none of 8 GB laptop, 24 GB GPU, 80 GB A100"
                                             : [&] {
                                                 std::string all;
                                                 for (const auto& f : fits)
                                                   all += (all.empty() ? "" : ", ") + f;
                                                 return all;
                                               }()
                                                   .c_str());
    for (const auto& n : p.notes) std::printf("  note: %s\n", n.c_str());
    if (!o->check) return;
    std::printf("\nThe same recipe on the tiny GPT (measured by the tracker):\n");
    for (const auto& a : check.adapted) std::printf("  adapted: %s\n", a.c_str());
    for (const auto& row : check.rows)
      std::printf("  %-34s predicted %10llu  measured %10s  %s\n", row.name.c_str(),
                  static_cast<unsigned long long>(row.predicted),
                  row.was_measured ? std::to_string(row.measured).c_str() : "-",
                  !row.was_measured               ? "(estimate)"
                  : row.predicted == row.measured ? "equal"
                                                  : "DIFFERENT");
  });
}

}  // namespace memlab::bench
