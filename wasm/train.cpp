// checkpoint.cpp — activation checkpointing, training the tiny GPT, and LoRA/QLoRA
// memory for JS. Translation only.
#include "train/train.hpp"

#include <string>
#include <vector>

#include "api.hpp"
#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/measure.hpp"
#include "base/random.hpp"
#include "model/generate.hpp"
#include "train/checkpoint.hpp"
#include "train/lora.hpp"

using namespace emscripten;
using namespace memlab;

namespace {

struct checkpoint_config {
  int layers = 16, batch = 16, width = 64, hidden = 256, repeats = 3;
  std::string policy = "sqrt";
  bool timeline = false;
};

// One policy on a seeded stack: exact peak bytes and the formula, recomputed
// blocks, median step time; with timeline, [[ms, live bytes], ...] of one step
// and the time its backward pass began.
val run_checkpoint(checkpoint_config c) {
  const checkpoint::mlp_stack stack(c.layers, c.width, c.hidden, 1);
  const auto batch = require_positive(c.batch, "batch");
  const auto p = checkpoint::policy::parse(c.policy);
  checkpoint::checkpoints(p, c.layers);
  require_repeats(c.repeats);
  require_work((c.repeats + 2.0) * checkpoint::step_flops(c.layers, batch, c.width, c.hidden),
               {{"repeats", c.repeats}, {"layers", c.layers}, {"batch", c.batch},
                {"width", c.width}, {"hidden", c.hidden}},
               "the timed training steps");
  rng gen(2);
  const auto x = random_normal<2>({batch, stack.width()}, gen);
  const auto target = random_normal<2>({batch, stack.width()}, gen);
  checkpoint::gradients g(stack);
  checkpoint::step_result r;
  const auto f = measure(c.repeats, [&] {
    g.zero();
    r = checkpoint::train_step(stack, x, target, p, g);
  });
  val out = val::object();
  out.set("policy", p.name());
  val points = val::array();
  for (int b : r.checkpoints) points.call<void>("push", b);
  out.set("checkpoints", points);
  out.set("peakBytes", double(r.peak_bytes));
  out.set("formulaBytes", double(checkpoint::peak_activation_bytes(r.checkpoints, c.layers, batch,
                                                                   stack.width(), stack.hidden())));
  out.set("recomputedBlocks", r.recomputed_blocks);
  out.set("stepMs", f.median_ms);
  out.set("loss", r.loss);
  if (c.timeline) {
    g.zero();
    const auto t = checkpoint::train_step(stack, x, target, p, g, true);
    val events = val::array();
    for (const auto& e : t.timeline) {
      val pair = val::array();
      pair.call<void>("push", e.time_ms);
      pair.call<void>("push", double(e.live_bytes));
      events.call<void>("push", pair);
    }
    out.set("timeline", events);
    out.set("backwardStartMs", t.backward_start_ms);
  }
  return out;
}

struct training_config {
  gpt::config model;
  int steps = 100, batch = 4, seq = 32;
  float lr = 3e-3f;
  std::string text;
  std::string prompt = "The ";
};

// Trains a fresh model on the text; onStep({step, loss}) after every step.
val run_training(training_config c, val on_step) {
  train::options o;
  o.model = c.model;
  o.steps = c.steps, o.batch = c.batch, o.seq = c.seq;
  o.adam.lr = c.lr;
  std::function<void(int, double)> progress;
  if (auto report = wasm::callback_of<val>(on_step))
    progress = [report](int step, double loss) {
      val p = val::object();
      p.set("step", step);
      p.set("loss", loss);
      report(p);
    };
  const auto r = train::run(c.text, o, progress);
  const auto prompt = gpt::encode(c.prompt);
  const int room = c.model.max_seq - int(prompt.size());
  require(room > 0, "prompt", c.prompt, "shorter than max_seq");
  sampling sampler;  // temperature 0.8 from the 20 likeliest bytes: greedy decoding of a
  sampler.temperature = 0.8f, sampler.top_k = 20;  // barely trained model repeats one byte
  const auto sample = generate(r.model, prompt, std::min(120, room), true, sampler);
  val out = val::object();
  val losses = val::array();
  for (double l : r.losses) losses.call<void>("push", l);
  out.set("losses", losses);
  out.set("initialEvalLoss", r.initial_eval_loss);
  out.set("finalEvalLoss", r.final_eval_loss);
  out.set("ms", r.ms);
  out.set("parameters", double(r.model.parameter_count()));
  val tokens = val::array();
  for (int t : prompt) tokens.call<void>("push", t);
  for (int t : sample.tokens) tokens.call<void>("push", t);
  out.set("sample", tokens);
  return out;
}

// LoRA and QLoRA memory figures for a seeded model.
val lora_memory(gpt::config model, int rank, float alpha) {
  const gpt::model base(model, 1);
  val out = val::array();
  for (bool quantized : {false, true}) {
    const auto f = lora::model(base, rank, alpha, quantized, 2).memory();
    val row = val::object();
    row.set("method", quantized ? "QLoRA" : "LoRA");
    row.set("parameters", double(f.parameters));
    row.set("adapterParameters", double(f.adapter_parameters));
    row.set("baseBytes", double(f.base_bytes));
    row.set("trainableStateBytes", double(f.trainable_state_bytes));
    row.set("totalBytes", double(f.total_bytes()));
    row.set("fullFinetuneBytes", double(f.full_finetune_bytes));
    out.call<void>("push", row);
  }
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_checkpoint) {
  wasm::object<checkpoint_config>("CheckpointConfig")
      .field("layers", &checkpoint_config::layers)
      .field("batch", &checkpoint_config::batch)
      .field("width", &checkpoint_config::width)
      .field("hidden", &checkpoint_config::hidden)
      .field("repeats", &checkpoint_config::repeats)
      .field("policy", &checkpoint_config::policy)
      .field("timeline", &checkpoint_config::timeline);
  wasm::object<training_config>("TrainingConfig")
      .field("model", &training_config::model)
      .field("steps", &training_config::steps)
      .field("batch", &training_config::batch)
      .field("seq", &training_config::seq)
      .field("lr", &training_config::lr)
      .field("text", &training_config::text)
      .field("prompt", &training_config::prompt);
  wasm::def<&run_checkpoint>("runCheckpoint", "config");
  wasm::def<&run_training>("runTraining", "config", wasm::callback("onStep"));
  wasm::def<&lora_memory>("loraMemory", "model", "rank", "alpha");
}
