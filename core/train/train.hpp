// train/train.hpp — next-token training of the tiny GPT (model/gpt.hpp) with a
// hand-written backward pass and AdamW.
//
// The training forward pass recomputes the model's forward with every
// activation kept (inputs of each layer, RMSNorm scales, q/k/v, attention's
// output, MLP pre-activations). Attention is causal FlashAttention
// (attention/flash_backward.hpp): the forward keeps only its output and the
// logsumexp of each query row [heads, T], and the backward recomputes the
// probabilities tile by tile. attention_kernel::naive keeps the probabilities
// [heads, T, T] instead, as eager autograd does: the same gradients (to float
// rounding) for heads · T² more floats per layer.
// Loss: mean over positions of −log softmax(logits)[next byte], plus for an MoE
// model aux_loss_coef · (mean over layers of the load-balancing loss,
// model/moe.hpp), whose router and expert gradients model/moe.cpp computes. The
// gradients are checked against finite differences in tests/core/train_test.cpp
// and tests/core/moe_test.cpp.
//
// AdamW (Loshchilov & Hutter): m = β1 m + (1−β1) g, v = β2 v + (1−β2) g²,
// w −= lr · (m̂ / (sqrt(v̂) + eps) + wd · w) with bias-corrected m̂, v̂; the
// decay applies to matrices only (not to the RMSNorm gains).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/gpt.hpp"
#include "train/checkpoint.hpp"

namespace memlab::train {

enum class attention_kernel { flash, naive };

// Query rows and keys per tile of training's flash attention (forward and
// backward; T <= max_seq, the inference default). The planner replays its scratch.
constexpr std::size_t attention_tile = 64;

// Loss of one sequence (next-token prediction of tokens[1..T] from tokens[0..T-1])
// and its gradient accumulated into grads (same shapes as the model's weights;
// zero them first), scaled by `scale` (e.g. 1 / batch). T = tokens.size() − 1
// must be in [1, max_seq]. Costs about 3× the forward pass.
double loss_and_gradient(const gpt::config& c, const gpt::weights& w,
                         const std::vector<int>& tokens, gpt::weights& grads, float scale = 1.0f);

// The same with activation checkpointing over the decoder layers (policies and
// segments as in train/checkpoint.hpp: only checkpoint layers' inputs are kept
// before the last segment; each segment is re-run from its checkpoint in the
// backward pass). Gradients are bitwise those of no checkpointing. figures, if
// given, gets the tracker's peak bytes of the call and the recomputed layers.
// kernel: attention's forward and backward (above).
struct checkpoint_figures {
  std::size_t peak_bytes = 0;
  int recomputed_layers = 0;
};
double loss_and_gradient(const gpt::config& c, const gpt::weights& w,
                         const std::vector<int>& tokens, gpt::weights& grads, float scale,
                         const checkpoint::policy& policy, checkpoint_figures* figures,
                         attention_kernel kernel = attention_kernel::flash);

// The same loss without gradients (for evaluation and finite differences).
double loss(const gpt::config& c, const gpt::weights& w, const std::vector<int>& tokens);

// Weights of the same shapes, all zero.
gpt::weights zeros_like(const gpt::weights& w);

struct adamw_options {
  float lr = 3e-3f, beta1 = 0.9f, beta2 = 0.99f, eps = 1e-8f, weight_decay = 0.01f;
};

// Throws memlab::invalid_argument naming the first bad option (lr must be
// positive and finite, betas in [0, 1), ...); adamw's constructor calls it.
void check(const adamw_options& o);

// One AdamW update of n parameters p with gradients g and moments m, v at step
// t (1-based); decay: apply the weight decay (matrices) or not (gains).
void adamw_update(float* p, const float* g, float* m, float* v, std::size_t n,
                  const adamw_options& o, int t, bool decay);

class adamw {
 public:
  adamw(const gpt::weights& w, adamw_options o);
  void step(gpt::weights& w, const gpt::weights& grads);
  // Bytes of optimizer state (m and v: 8 per parameter).
  std::size_t state_bytes() const;

 private:
  adamw_options o_;
  gpt::weights m_, v_;
  int t_ = 0;
};

struct options {
  gpt::config model;  // max_seq must be >= seq
  int steps = 200;
  int batch = 8;  // sequences per step
  int seq = 64;   // tokens per sequence (predictions)
  adamw_options adam;
  std::uint32_t seed = 1;
};

struct result {
  gpt::model model;
  std::vector<double> losses;  // training loss of every step (mean over the batch)
  double initial_eval_loss = 0, final_eval_loss = 0;  // on fixed windows of the text
  double ms = 0;
};

// Trains a fresh model on the text's bytes (windows of seq+1 at random offsets).
// progress(step, loss) is called after every step (may be empty). Refuses, before
// allocating, a run past the limits of base/limits.hpp (its bytes and work are
// stated at the check).
result run(const std::string& text, const options& o,
           const std::function<void(int, double)>& progress = {});

}  // namespace memlab::train
