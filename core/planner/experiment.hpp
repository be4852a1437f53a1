// planner/experiment.hpp — the memory planner checked on the tiny GPT: the same
// recipe planned and run, every figure measured by the tracker beside the
// prediction (what the page's "measured on the tiny GPT" panel shows).
//
// What memlab cannot run is adapted first, and each change is named: bf16
// weights become fp16 (the same bytes; memlab stores no bf16), quantized
// embeddings stay fp32 (gpt::model::quantized() keeps them), a KV cache in
// another format than fp32 becomes fp32 (memlab's caches are fp32), seq is
// capped at the model's max_seq, and training runs one sequence (memlab's
// trainer accumulates gradients a sequence at a time, so its peak does not grow
// with the batch). Inference activations are the planner's estimate and are not
// measured. LoRA/QLoRA add a row for memlab's lesson step, which forms W + BA and
// the full gradient G (8 bytes a parameter) around the activations of an
// unchecked step: its peak above the state is those activations + 8 · parameters,
// which PEFT never pays.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/gpt.hpp"
#include "planner/planner.hpp"

namespace memlab::experiments {

struct planner_check_config {
  planner::model_shape like;  // the model planned; its tiny counterpart runs
  planner::recipe recipe;
  std::uint32_t seed = 1;
};

struct planner_check_row {
  std::string name;             // weights, kv_cache, activations, ..., total
  std::uint64_t predicted = 0;  // the planner's bytes for the adapted recipe
  std::uint64_t measured = 0;   // the tracker's
  bool was_measured = true;     // false: an estimate only (inference activations)
};

struct planner_check_figures {
  gpt::config model;                 // tiny_counterpart(like)
  planner::recipe recipe;            // as run, after the adaptations
  std::vector<std::string> adapted;  // what changed and why
  planner::plan_result plan;         // the planner's answer for it
  std::vector<planner_check_row> rows;
  bool all_equal = false;  // every measured row equals its prediction
};

// The tiny GPT standing in for a model: 4 layers, d_model 128, 4 heads with the
// model's ratio of heads to KV heads (at least one KV head), d_ff 512, max_seq
// 128, the model's tied or untied head and, for an MoE model, its experts and
// top_k (at most 8 experts). Small enough to run in a browser in a second.
gpt::config tiny_counterpart(const planner::model_shape& model);

// Builds tiny_counterpart(config.like) from the seed, plans the recipe for it
// and runs it: quantizes the weights, fills the KV caches with seq generated tokens
// (inference), or runs one training step / builds the LoRA state (training).
// Throws memlab::invalid_argument on a bad config or recipe.
planner_check_figures run_planner_check(const planner_check_config& config);

}  // namespace memlab::experiments
