// model/moe_experiment.hpp — what Mixture of Experts buys and costs, in three
// experiments on the tiny GPT (model/moe.hpp), each one function returning figures.
//
//   run_moe_sizes    total vs active parameters and bytes as E grows at fixed k:
//                    memory follows the total (every expert is resident), the
//                    work of a token follows the active count.
//   run_moe_balance  two MoE models trained the same way, with and without the
//                    load-balancing loss, then the tokens each expert is chosen
//                    for on a text: without it the router favours a few experts;
//                    with it the counts even out. It takes a few hundred steps: early
//                    on the loss is met by near-uniform router probabilities whose
//                    ranking still sends most tokens to the same experts (E·Σ f·P is
//                    close to its minimum k whatever f is when every P_e ≈ 1/E); once
//                    the language-model loss makes the router confident, f and P move
//                    together and the loss evens the counts.
//   run_moe_speed    decoding time per token vs E at fixed k, against a dense
//                    model of the same total size (d_ff · E): MoE stays roughly
//                    flat (a token runs k experts), dense grows with its width.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/gpt.hpp"

namespace memlab::experiments {

// In every config below the model's experts, top_k (and capacity_factor) are
// replaced by the config's own fields, so that a dense config serves as the base.

struct moe_size_config {
  gpt::config model;
  std::vector<int> experts;  // one model per entry, each >= top_k
  int top_k = 2;
};

struct moe_size_row {
  int experts = 0;
  std::size_t parameters = 0;         // all resident
  std::size_t active_parameters = 0;  // multiplied for one token
  std::size_t weight_bytes = 0;       // tracked bytes of the model's weights (fp32)
  std::size_t active_bytes = 0;       // 4 · active_parameters: the weights a token reads
};

// Builds each model and measures its weights with the tracker. Throws on a bad config.
std::vector<moe_size_row> run_moe_sizes(const moe_size_config& config);

struct moe_balance_config {
  gpt::config model;  // its aux_loss_coef is replaced by 0 and by `aux_loss_coef`
  int experts = 8;    // at least 2
  int top_k = 2;
  float capacity_factor = 0;
  float aux_loss_coef = 0.01f;  // Switch Transformer's
  int steps = 600, batch = 4, seq = 32;
  float lr = 0.01f;
  std::string text;       // training text (windows at random offsets)
  std::string eval_text;  // routed after training; empty: the training text
  std::uint32_t seed = 1;
};

struct moe_balance_run {
  float aux_loss_coef = 0;
  std::vector<std::vector<std::size_t>> choices;  // [layers][experts] on the eval text
  std::vector<std::size_t> total;                 // [experts] summed over layers
  double max_over_mean = 0;                       // max of total / its mean: 1 is perfectly even
  double final_loss = 0;                          // eval loss after training (with its aux term)
  std::vector<double> losses;                     // training loss per step
};

struct moe_balance_figures {
  std::size_t eval_tokens = 0;
  moe_balance_run without, with;  // aux_loss_coef 0 and the config's
};

// progress(done, total) after every training step of either run (may be empty).
moe_balance_figures run_moe_balance(const moe_balance_config& config,
                                    const std::function<void(int, int)>& progress = {});

struct moe_speed_config {
  gpt::config model;
  std::vector<int> experts;  // one MoE model per entry, each >= top_k
  int top_k = 2;
  int tokens = 32;  // decoded with a KV cache after a one-byte prompt
  int repeats = 3;
};

struct moe_speed_row {
  int experts = 0;
  std::size_t moe_parameters = 0, dense_parameters = 0;  // dense: d_ff · experts wide
  double moe_ms_per_token = 0, dense_ms_per_token = 0;   // median of repeats
};

std::vector<moe_speed_row> run_moe_speed(const moe_speed_config& config);

}  // namespace memlab::experiments
