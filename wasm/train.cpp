// train.cpp — the training experiments for JS (train/experiment.hpp): one
// checkpointed training step, training the tiny GPT, LoRA/QLoRA memory.
// Translation only: figures to JS objects and arrays, progress to a JS callback.
#include <string>
#include <vector>

#include "api.hpp"
#include "train/experiment.hpp"

using namespace emscripten;
using namespace memlab;

namespace {

template <class T>
val to_array(const std::vector<T>& values) {
  val out = val::array();
  for (const auto& x : values) out.call<void>("push", double(x));
  return out;
}

// {policy, checkpoints, peakBytes, formulaBytes, recomputedBlocks, stepMs, loss}
// and, with config.timeline, timeline [[ms, live bytes], ...] and backwardStartMs.
val run_checkpoint(experiments::checkpoint_config config) {
  const auto f = experiments::run_checkpoint(config);
  val out = val::object();
  out.set("policy", f.policy);
  out.set("checkpoints", to_array(f.checkpoints));
  out.set("peakBytes", double(f.peak_bytes));
  out.set("formulaBytes", double(f.formula_bytes));
  out.set("recomputedBlocks", f.recomputed_blocks);
  out.set("stepMs", f.step.median_ms);
  out.set("loss", f.loss);
  if (config.timeline) {
    val events = val::array();
    for (const auto& e : f.timeline) {
      val pair = val::array();
      pair.call<void>("push", e.time_ms);
      pair.call<void>("push", double(e.live_bytes));
      events.call<void>("push", pair);
    }
    out.set("timeline", events);
    out.set("backwardStartMs", f.backward_start_ms);
  }
  return out;
}

// onStep({step, loss}) after every step (or undefined for none).
val run_training(experiments::training_config config, val on_step) {
  std::function<void(int, double)> progress;
  if (auto report = wasm::callback_of<val>(on_step))
    progress = [report](int step, double loss) {
      val p = val::object();
      p.set("step", step);
      p.set("loss", loss);
      report(p);
    };
  const auto f = experiments::run_training(config, progress);
  val out = val::object();
  out.set("losses", to_array(f.trained.losses));
  out.set("initialEvalLoss", f.trained.initial_eval_loss);
  out.set("finalEvalLoss", f.trained.final_eval_loss);
  out.set("ms", f.trained.ms);
  out.set("parameters", double(f.parameters));
  out.set("sample", to_array(f.sample));
  val checkpointing = val::array();
  for (const auto& c : f.checkpointing) {
    val row = val::object();
    row.set("attention", c.attention);
    row.set("policy", c.policy);
    row.set("peakBytes", double(c.peak_bytes));
    row.set("recomputedLayers", c.recomputed_layers);
    checkpointing.call<void>("push", row);
  }
  out.set("checkpointing", checkpointing);
  return out;
}

// [{method, rank, parameters, adapterParameters, baseBytes, trainableStateBytes,
// totalBytes, fullFinetuneBytes, savingVsFull, losses}]: LoRA, then QLoRA.
val run_lora(experiments::lora_config config) {
  val out = val::array();
  for (const auto& f : experiments::run_lora(config)) {
    val row = val::object();
    row.set("method", f.method);
    row.set("rank", f.rank);
    row.set("parameters", double(f.memory.parameters));
    row.set("adapterParameters", double(f.memory.adapter_parameters));
    row.set("baseBytes", double(f.memory.base_bytes));
    row.set("trainableStateBytes", double(f.memory.trainable_state_bytes));
    row.set("totalBytes", double(f.memory.total_bytes()));
    row.set("fullFinetuneBytes", double(f.memory.full_finetune_bytes));
    row.set("savingVsFull", f.saving_vs_full);
    row.set("losses", to_array(f.losses));
    out.call<void>("push", row);
  }
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_train) {
  using experiments::checkpoint_config, experiments::training_config, experiments::lora_config;
  wasm::object<checkpoint_config>("CheckpointConfig")
      .field("layers", &checkpoint_config::layers)
      .field("batch", &checkpoint_config::batch)
      .field("width", &checkpoint_config::width)
      .field("hidden", &checkpoint_config::hidden)
      .field("policy", &checkpoint_config::policy)
      .field("repeats", &checkpoint_config::repeats)
      .field("timeline", &checkpoint_config::timeline);
  wasm::object<training_config>("TrainingConfig")
      .field("model", &training_config::model)
      .field("steps", &training_config::steps)
      .field("batch", &training_config::batch)
      .field("seq", &training_config::seq)
      .field("lr", &training_config::lr)
      .field("seed", &training_config::seed)
      .field("text", &training_config::text)
      .field("prompt", &training_config::prompt)
      .field("sampleTokens", &training_config::sample_tokens)
      .field("sampler", &training_config::sampler);
  wasm::object<lora_config>("LoraConfig")
      .field("model", &lora_config::model)
      .field("rank", &lora_config::rank)
      .field("alpha", &lora_config::alpha)
      .field("steps", &lora_config::steps)
      .field("batch", &lora_config::batch)
      .field("seq", &lora_config::seq)
      .field("text", &lora_config::text);
  wasm::def<&run_checkpoint>("runCheckpoint", "config");
  wasm::def<&run_training>("runTraining", "config", wasm::callback("onStep"));
  wasm::def<&run_lora>("runLora", "config");
}
