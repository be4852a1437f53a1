// memlab-bench moe — Mixture of Experts in the tiny GPT (model/moe_experiment.hpp):
// total vs active parameters, tokens per expert with and without the balancing
// loss after training, decoding time per token vs E against a dense model of
// the same total size.
//
//   memlab-bench moe [--experts 2,4,8,16,32] [--top-k 2] [--steps 600] [--aux 0.01]
//                    [--text data/corpus.txt] [--tokens 32] [--repeats 3] [--json]
#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>

#include "base/error.hpp"
#include "commands.hpp"
#include "model/moe_experiment.hpp"

namespace memlab::bench {

void add_moe_command(CLI::App& app) {
  struct options {
    gpt::config model;
    std::vector<int> experts = {2, 4, 8, 16, 32};
    int top_k = 2, balance_experts = 8, steps = 600, tokens = 32, repeats = 3;
    float aux = 0.01f;
    std::string text_path = "data/corpus.txt";
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto& m = o->model;
  m.layers = 2, m.d_model = 64, m.heads = 4, m.kv_heads = 4, m.d_ff = 128, m.max_seq = 64;
  auto* cmd = app.add_subcommand("moe", "Mixture of Experts: sizes, balance, speed");
  cmd->add_option("--experts", o->experts, "numbers of experts for sizes and speed")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--top-k", o->top_k, "experts per token")->capture_default_str();
  cmd->add_option("--layers", m.layers, "decoder layers")->capture_default_str();
  cmd->add_option("--d-model", m.d_model, "model width")->capture_default_str();
  cmd->add_option("--d-ff", m.d_ff, "width of each expert (dense: d_ff · experts)")
      ->capture_default_str();
  cmd->add_option("--balance-experts", o->balance_experts, "experts of the trained models")
      ->capture_default_str();
  cmd->add_option("--steps", o->steps, "training steps of each balance run")->capture_default_str();
  cmd->add_option("--aux", o->aux, "load-balancing loss weight of the balanced run")
      ->capture_default_str();
  cmd->add_option("--text", o->text_path, "training text")->capture_default_str();
  cmd->add_option("--tokens", o->tokens, "decoded tokens per timed run")->capture_default_str();
  cmd->add_option("--repeats", o->repeats, "timed runs (median)")->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of tables");
  cmd->callback([o] {
    const auto sizes = experiments::run_moe_sizes({o->model, o->experts, o->top_k});
    experiments::moe_balance_config b;
    b.model = o->model;
    b.model.layers = 2, b.model.d_model = 32, b.model.d_ff = 64, b.model.max_seq = 32;
    b.experts = o->balance_experts, b.top_k = o->top_k;
    b.aux_loss_coef = o->aux;
    b.steps = o->steps;
    std::ifstream in(o->text_path, std::ios::binary);
    require(bool(in), "text", o->text_path, "a readable file");
    b.text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    const auto balance = experiments::run_moe_balance(b);
    const auto speed =
        experiments::run_moe_speed({o->model, o->experts, o->top_k, o->tokens, o->repeats});

    if (o->json) {
      nlohmann::json out;
      for (const auto& r : sizes)
        out["sizes"].push_back({{"experts", r.experts},
                                {"parameters", r.parameters},
                                {"active_parameters", r.active_parameters},
                                {"weight_bytes", r.weight_bytes},
                                {"active_bytes", r.active_bytes}});
      auto run = [](const experiments::moe_balance_run& r) {
        return nlohmann::json{{"aux_loss_coef", r.aux_loss_coef},
                              {"tokens_per_expert", r.total},
                              {"per_layer", r.choices},
                              {"max_over_mean", r.max_over_mean},
                              {"final_eval_loss", r.final_loss}};
      };
      out["balance"] = {{"eval_tokens", balance.eval_tokens},
                        {"without", run(balance.without)},
                        {"with", run(balance.with)}};
      for (const auto& r : speed)
        out["speed"].push_back({{"experts", r.experts},
                                {"moe_parameters", r.moe_parameters},
                                {"dense_parameters", r.dense_parameters},
                                {"moe_ms_per_token", r.moe_ms_per_token},
                                {"dense_ms_per_token", r.dense_ms_per_token}});
      std::cout << out.dump(2) << '\n';
      return;
    }
    std::printf("Total vs active (top_k %d, d_model %d, d_ff %d per expert)\n", o->top_k,
                o->model.d_model, o->model.d_ff);
    std::printf("%8s %14s %14s %14s %14s\n", "experts", "parameters", "active", "weight bytes",
                "active bytes");
    for (const auto& r : sizes)
      std::printf("%8d %14zu %14zu %14s %14s\n", r.experts, r.parameters, r.active_parameters,
                  bytes_text(double(r.weight_bytes)).c_str(),
                  bytes_text(double(r.active_bytes)).c_str());
    std::printf("\nTokens per expert on %zu tokens after %d steps (%d experts, top %d)\n",
                balance.eval_tokens, o->steps, b.experts, b.top_k);
    for (const auto* r : {&balance.without, &balance.with}) {
      std::printf("  aux %.3g:", double(r->aux_loss_coef));
      for (std::size_t n : r->total) std::printf(" %zu", n);
      std::printf("   max/mean %.2f, eval loss %.3f\n", r->max_over_mean, r->final_loss);
    }
    std::printf("\nDecoding time per token (%d tokens, median of %d)\n", o->tokens, o->repeats);
    std::printf("%8s %14s %14s %12s %12s\n", "experts", "MoE params", "dense params", "MoE ms",
                "dense ms");
    for (const auto& r : speed)
      std::printf("%8d %14zu %14zu %12.4f %12.4f\n", r.experts, r.moe_parameters,
                  r.dense_parameters, r.moe_ms_per_token, r.dense_ms_per_token);
  });
}

}  // namespace memlab::bench
