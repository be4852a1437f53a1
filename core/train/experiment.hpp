// train/experiment.hpp — the training experiments, each one function returning
// its figures: one checkpointed training step of a residual MLP stack, training
// the tiny GPT on a text, and the memory of LoRA / QLoRA fine-tuning.
//
// The native CLI (tools/bench/checkpoint.cpp, train.cpp, lora.cpp) prints them,
// the page graphs them (wasm/train.cpp translates them to JS), the tests assert
// on the deterministic ones (tracked bytes, formulas, losses). Seeds are fixed
// here, so every caller gets the same figures for the same config.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/measure.hpp"
#include "base/memory.hpp"
#include "model/generate.hpp"
#include "model/gpt.hpp"
#include "train/lora.hpp"
#include "train/train.hpp"

namespace memlab::experiments {

// One training step (forward + backward, train/checkpoint.hpp) of `layers`
// residual MLP blocks of width d and hidden f on seeded inputs x, target
// [batch, width], under one checkpointing policy. Weights come from seed 1,
// inputs from seed 2.
struct checkpoint_config {
  int layers = 16;
  int batch = 32;
  int width = 128;
  int hidden = 512;
  std::string policy = "sqrt";  // none, sqrt, every:K, set:I,J,... (checkpoint::policy::parse)
  int repeats = 5;              // timed steps (median), after one untimed
  bool timeline = false;        // also record one more step's live bytes
};

struct checkpoint_figures {
  checkpoint_config config;
  std::string policy;             // its canonical name ("every:4")
  std::vector<int> checkpoints;   // the blocks whose inputs are kept
  std::size_t peak_bytes = 0;     // tracker peak of one step, exact
  std::size_t formula_bytes = 0;  // checkpoint::peak_activation_bytes: equal to peak_bytes
  int recomputed_blocks = 0;      // blocks whose forward ran twice
  run_figures step;               // the step's time, median of config.repeats
  double loss = 0;                // ½ Σ (x_n − target)², the same for every policy
  // With config.timeline: (ms, live bytes above the step's start) after every
  // allocation and free of one step, and when its backward pass began.
  std::vector<memory::event> timeline;
  double backward_start_ms = 0;
};

// Throws memlab::invalid_argument naming a bad size, repeats or policy.
checkpoint_figures run_checkpoint(const checkpoint_config& config);

// Training the tiny GPT from seeded weights on `text` (train::run: AdamW,
// windows of seq + 1 bytes at random offsets), then a sample of up to
// sample_tokens bytes after `prompt` (fewer when max_seq leaves less room),
// and the peak of one sequence's forward + backward without checkpointing and
// with √n checkpointing over the decoder layers, and with naive attention (its
// probabilities kept for the backward) instead of flash.
struct training_config {
  gpt::config model{2, 64, 4, 4, 256, 128, true};
  int steps = 300;
  int batch = 8;  // sequences per step
  int seq = 64;   // tokens per sequence
  float lr = 3e-3f;
  std::uint32_t seed = 1;  // of the weights and the batches
  std::string text;        // the training text, as bytes
  std::string prompt = "The ";
  int sample_tokens = 200;
  sampling sampler;  // greedy by default
};

struct layer_checkpointing {
  std::string attention;  // "flash" (what training runs) or "naive" (P kept, as eager autograd)
  std::string policy;     // "none", "sqrt"
  std::size_t peak_bytes = 0;
  int recomputed_layers = 0;
};

struct training_figures {
  training_config config;  // its text left out (empty)
  train::result trained;   // the model, every step's loss, eval losses before and after, ms
  std::size_t parameters = 0;
  std::vector<int> sample;                         // the prompt's bytes, then the sampled ones
  std::vector<layer_checkpointing> checkpointing;  // flash none, flash sqrt, naive none
};

// on_step(step, loss) after every step (may be empty). Throws
// memlab::invalid_argument naming a bad config, text or prompt.
training_figures run_training(const training_config& config,
                              const std::function<void(int step, double loss)>& on_step = {});

// LoRA and QLoRA (train/lora.hpp) over the seeded tiny GPT (weights seed 1,
// adapters seed 2): memory between steps against full fine-tuning, and, for
// steps > 0, that many adapter training steps on `text` (batches of `batch`
// windows of seq + 1 bytes, offsets from seed 3).
struct lora_config {
  gpt::config model;
  int rank = 8;
  float alpha = 16;  // scale = alpha / rank
  int steps = 0;     // 0: memory only
  int batch = 4;
  int seq = 32;
  std::string text;  // needed for steps > 0
};

struct lora_figures {
  std::string method;  // "LoRA", "QLoRA"
  int rank = 0;
  lora::memory_figures memory;
  double saving_vs_full = 0;   // 1 − total / full fine-tune bytes
  std::vector<double> losses;  // of each training step
};

// LoRA, then QLoRA. Throws memlab::invalid_argument for a bad rank, seq or text.
std::vector<lora_figures> run_lora(const lora_config& config);

}  // namespace memlab::experiments
