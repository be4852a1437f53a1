// planner/planner.hpp — how many bytes a model needs, for any shape and recipe.
//
// One function, plan(model, recipe), turns a model description (layers, d_model,
// heads, kv_heads, d_ff, vocab, MLP kind, tied head, experts) and a recipe
// (weight format, KV cache format and layout, sequence length, batch, training
// method, checkpoint policy, LoRA rank) into a byte breakdown and parameter
// counts. The arithmetic is memlab's own: on the tiny GPT (model/gpt.hpp, dense
// or MoE) every figure equals what the tracker measures, byte for byte —
// weights in every format, contiguous and paged KV caches after n tokens, one
// training step's peak under each checkpoint policy, LoRA/QLoRA state — and
// tests/core/planner_test.cpp asserts it. The same arithmetic then scales to
// GPT-2 … Llama-2-70B and Mixtral (presets with published shapes).
//
//   weights      every tensor in its format: linear layers (q k v o, the MLP or
//                every expert) in recipe.weights; token and position embeddings
//                and an untied head in recipe.embeddings; vectors (norm gains,
//                biases) and MoE routers in fp32 (as llama.cpp and memlab keep
//                them). Bytes of a [rows, cols] matrix per format:
//                  fp32 4, fp16/bf16 2 per value; q8_0 34, q4_0 18, q4_1 20 per
//                  32 values; int8/int4 (groups of 128 along a row) 1 or ½ per
//                  value + 4 per group (+1 zero point, asymmetric); nf4 ½ per
//                  value + 4 per 64; nf4_dq ½ + 1 per 64 + 4 per 256 blocks + 4.
//   kv_cache     2 (K, V) · layers · kv_heads · head_dim per token per sequence,
//                in recipe.kv (fp32 4, fp16/bf16 2, q8_0 34/32, q4_0 18/32 bytes);
//                contiguous: reserves `context` tokens (default seq) up front;
//                paged: ceil(seq / block) blocks of `block` tokens.
//   activations  training: the peak of one step's forward + backward as
//                memlab's trainer allocates them (train/train.cpp, a replay of
//                every buffer in order: per layer the input, norms, q k v,
//                attention's output and, with recipe.attention = "flash", the
//                logsumexp [heads, T] (tiles of 64 as scratch) or with "naive"
//                the probabilities [heads, T, T]; the MLP or MoE buffers; the
//                logits' softmax; the backward's transients), under the
//                checkpoint policy; per sequence, times batch. Flash attention
//                keeps one scratch set per worker of core's thread pool: the
//                replay is of one thread (parallel::threads() = 1, core's
//                default and wasm's only).
//                Inference: an estimate of one prefill's working set (not measured).
//   gradients    full: one per parameter (4 bytes); LoRA/QLoRA: one per adapter
//                parameter.
//   optimizer    AdamW's m and v: 8 bytes per trainable parameter.
//   adapters     LoRA/QLoRA: rank · (in + out) per adapted projection (q k v o
//                of every layer), 4 bytes each.
//
// What it does not count (it says so in `notes`): a CUDA context (a few hundred
// MB per GPU), the caching allocator's slack (PyTorch keeps freed blocks and
// rounds sizes; reserved memory runs 5–20% above allocated), framework
// temporaries beyond memlab's own, fragmentation.
//
// Sizes are 64-bit (a 70B model's bytes overflow 32 bits; wasm's size_t is 32).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/gpt.hpp"

namespace memlab::planner {

struct model_shape {
  std::string name;
  int layers = 0, d_model = 0, heads = 0, kv_heads = 0, d_ff = 0, vocab = 0;
  int positions = 0;         // learned position embeddings (0: rotary, none stored)
  std::string mlp = "gelu";  // gelu: w1 w2; swiglu: gate up down
  std::string norm = "rms";  // rms: a gain; layer: a gain and a bias
  bool tied = true;          // output head = token embeddingᵀ
  bool biases = false;       // biases on q k v o and the MLP (GPT-2, GPT-3)
  int experts = 0;           // 0: dense; E: E expert MLPs and a router per layer
  int top_k = 1;
  double capacity_factor = 0;  // MoE training buffers: C = max(1, floor(cf·k·n/E)); 0: none

  int head_dim() const { return heads ? d_model / heads : 0; }
};

struct recipe {
  std::string weights = "fp32";  // linear layers: quant::format_names() or bf16
  std::string embeddings;        // embeddings and untied head; empty: as weights
  std::string kv = "fp32";       // fp32, fp16, bf16, q8_0, q4_0
  bool paged = false;
  int block = 16;                   // tokens per block (paged)
  int seq = 1024;                   // tokens per sequence
  int context = 0;                  // tokens a contiguous cache reserves; 0: seq
  int batch = 1;                    // sequences at once
  std::string train = "none";       // none | full | lora | qlora
  std::string checkpoint = "none";  // train/checkpoint.hpp policies: none, sqrt, every:K, set:I,J
  std::string attention = "flash";  // training's kernel: flash (O, logsumexp kept) | naive (P kept)
  int rank = 8;                     // LoRA/QLoRA
  int activation_bytes = 4;         // bytes per activation value (memlab: fp32; bf16: 2)
};

struct breakdown {
  std::uint64_t weights = 0;        // all of them, scales included
  std::uint64_t weight_scales = 0;  // of which: quantization scales and zero points
  std::uint64_t kv_cache = 0;
  std::uint64_t activations = 0;
  std::uint64_t gradients = 0;
  std::uint64_t optimizer = 0;
  std::uint64_t adapters = 0;
  std::uint64_t total() const {
    return weights + kv_cache + activations + gradients + optimizer + adapters;
  }
};

struct plan_result {
  model_shape model;
  recipe how;
  breakdown bytes;
  std::uint64_t params_total = 0;
  std::uint64_t params_active = 0;     // per token (all but the unused experts)
  std::uint64_t params_trainable = 0;  // full: all; LoRA: the adapters; none: 0
  std::uint64_t kv_tokens = 0;         // token slots the KV cache holds, all sequences
  std::vector<std::string> notes;      // what it leaves out, where a framework uses more
};

// Throws memlab::invalid_argument naming the first bad field or value.
plan_result plan(const model_shape& model, const recipe& how);

// The replay behind a training plan's activations, turn by turn: the live bytes
// of one sequence's step at every local maximum (a run of allocations followed by
// a free), in order; the largest is the plan's activations / batch. Tests compare
// it with the tracker's timeline of the same step, so that every term of the
// replay counts, not only those of the step's highest point.
std::vector<std::uint64_t> training_step_peaks(const model_shape& model, const recipe& how);
// The local maxima of a series of live values, as above (plateaus count once).
std::vector<std::uint64_t> local_peaks(const std::vector<std::uint64_t>& series);

// gpt2, gpt3-175b, llama-2-7b, llama-2-13b, llama-2-70b, mixtral-8x7b.
const std::vector<std::string>& preset_names();
model_shape preset(const std::string& name);
// The tiny GPT's shape (vocab 256, learned positions, GELU, RMSNorm, no biases).
model_shape shape_of(const gpt::config& c);

// Bytes of a [rows, cols] matrix (rows = outputs, cols = inputs) in a format.
struct matrix_bytes {
  std::uint64_t total = 0, scales = 0;
};
matrix_bytes bytes_of(const std::string& format, std::uint64_t rows, std::uint64_t cols);

// Where a total fits: labelled devices and their memory.
struct device {
  std::string label;
  std::uint64_t bytes = 0;
};
const std::vector<device>& devices();

}  // namespace memlab::planner
