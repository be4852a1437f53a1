// train/lora.hpp — LoRA and QLoRA on the tiny GPT's attention projections.
//
// LoRA (Hu et al. 2021): a frozen weight W [in, out] gets a trainable low-rank
// update, W_eff = W + (alpha / r) · A · B with A [in, r], B [r, out]; A starts
// random (normal, std 1/sqrt(in)), B at zero, so training starts from the base
// model exactly. Here the adapters sit on wq, wk, wv and wo of every layer.
// QLoRA (Dettmers et al. 2023): the same over a base whose linear weights (wq
// wk wv wo and the MLP's w1 w2, or every expert's) are stored NF4 with double
// quantization (quant/nf4.hpp);
// they are dequantized to fp32 for each step and never updated.
//
// Gradients: W_eff is linear in A and B, so with G = dL/dW_eff (from the
// hand-written backward of train/train.hpp, run on the effective weights)
//   dL/dA = (alpha/r) · G · Bᵀ,   dL/dB = (alpha/r) · Aᵀ · G.
// (This lesson computes G in full, which is simple and exact; a memory-lean
// implementation would never form it. The memory figures below count what a
// real implementation keeps between steps: weights, gradients, optimizer state.)
//
// Memory of a fine-tuning setup between steps (bytes):
//   full fine-tune:  16 · P      (fp32 weights 4, gradients 4, AdamW m and v 8)
//   LoRA:            4 · P + 16 · P_adapters
//   QLoRA:           base bytes (NF4 linear weights + fp32 embeddings and norms)
//                    + 16 · P_adapters
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "model/gpt.hpp"
#include "quant/matrix.hpp"
#include "train/train.hpp"

namespace memlab::lora {

struct adapter {
  tensor<2> a;  // [in, r]
  tensor<2> b;  // [r, out]
};

struct layer_adapters {
  adapter q, k, v, o;
};

struct memory_figures {
  std::size_t parameters = 0;             // of the base model
  std::size_t adapter_parameters = 0;     // trainable
  std::size_t full_finetune_bytes = 0;    // 16 · parameters
  std::size_t base_bytes = 0;             // frozen base as stored (fp32 or NF4 + fp32 rest)
  std::size_t trainable_state_bytes = 0;  // 16 · adapter_parameters
  std::size_t total_bytes() const { return base_bytes + trainable_state_bytes; }
};

class model {
 public:
  // Adapters of rank `rank` over `base`; quantized: store the base's linear
  // weights NF4 + double quantization (QLoRA). Throws for rank <= 0 or rank
  // larger than the smallest dimension of an adapted projection.
  model(const gpt::model& base, int rank, float alpha, bool quantized, std::uint32_t seed,
        train::adamw_options adam = {});

  int rank() const { return rank_; }
  const std::vector<layer_adapters>& adapters() const { return adapters_; }
  std::vector<layer_adapters>& adapters() { return adapters_; }

  // Base (dequantized when QLoRA) + (alpha / r) · A · B on the adapted projections.
  gpt::weights effective_weights() const;
  // The plain model with the adapters merged into its (dequantized) base.
  gpt::model merge() const;
  // The frozen base as stored: the weights (QLoRA: dequantized) before adapters.
  gpt::weights base_weights() const;

  // The mean loss over the sequences (each tokens[0..T], predicting tokens[1..T])
  // and its gradient with respect to every adapter (shaped like adapters()).
  double gradient(const std::vector<std::vector<int>>& sequences,
                  std::vector<layer_adapters>& grads) const;
  // One step: gradient(), then AdamW on the adapters only. Returns the mean loss.
  double train_step(const std::vector<std::vector<int>>& sequences);

  memory_figures memory() const;

 private:
  gpt::config config_;
  gpt::weights base_;  // QLoRA: the six linear weights of each layer left empty
  std::vector<std::vector<quant::quantized_matrix>>
      quantized_;  // per layer wq wk wv wo, then w1 w2 or each expert's; [out, in]
  std::vector<layer_adapters> adapters_;
  int rank_;
  float scale_;
  train::adamw_options adam_;
  std::vector<layer_adapters> m_, v_;  // AdamW state of the adapters
  int t_ = 0;
};

}  // namespace memlab::lora
