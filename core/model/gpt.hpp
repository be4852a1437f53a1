// model/gpt.hpp — a tiny GPT-style decoder, small enough to read in one sitting.
//
// Byte-level: the vocabulary is the 256 byte values, so any text goes in and
// comes out. For n tokens at positions p0 .. p0+n-1 (x is [n, d_model]):
//
//   x = token_embedding[tokens] + position_embedding[positions]
//   for each layer:
//     x += attention(rms_norm(x) · norm1) · wo        (causal; any kv_heads)
//     x += gelu(rms_norm(x) · norm2 · w1) · w2         (or an MoE block: model/moe.hpp)
//   logits = rms_norm(x) · norm_f · token_embeddingᵀ  (tied head; or · lm_head)
//
// Attention sees an optional KV cache (kv_cache/kv_cache.hpp) and is the same code
// either way: without a cache the tokens are the whole sequence and their K/V
// are used directly; with one, the new tokens' K/V are appended and the queries
// attend over everything stored. A forward pass costs about
// 2 · parameters · n flops plus attention, 4 · n · seq · d_model per layer.
//
// Weights are drawn from a seed (normal, std 0.02; the two residual
// projections scaled by 1/sqrt(2 · layers) as in GPT-2), identical natively and
// in wasm, and can be saved and loaded (format below). quantized() gives the
// same model with its linear layers stored in a quantized format
// (quant/matrix.hpp): what weight quantization does to memory,
// logits and decoding speed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/limits.hpp"
#include "base/memory.hpp"
#include "kv_cache/kv_cache.hpp"
#include "model/moe.hpp"
#include "quant/matrix.hpp"

namespace memlab::gpt {

constexpr int vocab = 256;  // byte values

struct config {
  int layers = 4;
  int d_model = 128;
  int heads = 4;
  int kv_heads = 4;   // divides heads: heads (MHA), fewer (GQA), 1 (MQA)
  int d_ff = 512;     // hidden size of the MLP
  int max_seq = 512;  // positions
  bool tied = true;   // output head = token_embeddingᵀ
  // Mixture of Experts (model/moe.hpp). experts = 0: every layer has the dense
  // MLP w1 w2. experts = E >= 1: every layer has E expert MLPs of width d_ff
  // and a router; each token goes to top_k of them.
  int experts = 0;
  int top_k = 1;                // in [1, experts]
  float capacity_factor = 0;    // 0: no capacity; else C = max(1, floor(cf · top_k · n / E))
  float aux_loss_coef = 0.01f;  // training: weight of the load-balancing loss (Switch: 0.01)

  int head_dim() const { return d_model / heads; }
};

// Throws memlab::invalid_argument naming the first bad field.
void check(const config& c);

// What a model of this config costs, in 64 bits (base/limits.hpp), for the
// checks of every function that builds or runs one:
// parameters (embeddings, every layer's weights and norms, the head unless tied);
count parameters(const config& c);
// bytes a forward pass over n tokens allocates at most at once: x, the norm, q,
// k, v, the attention output and the MLP hidden ([n, ·] each, fp32), attention's
// own (flash: the output and one tile of scores) and the logits [n, vocab];
count forward_bytes(const config& c, count n);
// the work of a forward pass, in flops of time: per token (all layers) the
// linear layers' 2 per weight and the element-wise passes (norms, GELU,
// residuals, head splits: ~20 per value of a token's activations and 2000 for
// the calls themselves, per layer); per (token, position) pair (all layers)
// attention's 4 · heads · head_dim and an exponential per head; per row of
// logits the output head, 2 · d_model · vocab;
struct forward_cost {
  double token, pair, logits;
};
forward_cost cost(const config& c);
// and of a pass over n new tokens after `start` stored ones (token i sees
// start + i + 1 positions) with `logits` rows of logits (1 when only the last
// token's are needed).
double forward_flops(const config& c, double n, double start, double logits);

struct layer_weights {
  tensor<1> norm1;                   // [d_model] RMSNorm gains before attention
  tensor<2> wq;                      // [d_model, heads · head_dim]
  tensor<2> wk;                      // [d_model, kv_heads · head_dim]
  tensor<2> wv;                      // [d_model, kv_heads · head_dim]
  tensor<2> wo;                      // [heads · head_dim, d_model]
  tensor<1> norm2;                   // [d_model] before the MLP
  tensor<2> w1;                      // [d_model, d_ff]; empty with experts
  tensor<2> w2;                      // [d_ff, d_model]; empty with experts
  tensor<2> router;                  // [d_model, experts]; empty without
  std::vector<moe::expert> experts;  // E experts: w1 [d_model, d_ff], w2 [d_ff, d_model]
};

struct weights {
  tensor<2> token_embedding;     // [vocab, d_model]
  tensor<2> position_embedding;  // [max_seq, d_model]
  std::vector<layer_weights> layers;
  tensor<1> norm_f;   // [d_model]
  tensor<2> lm_head;  // [d_model, vocab]; empty when tied
};

class model {
 public:
  // Both constructors refuse a config whose fp32 weights (4 · parameters) are
  // more than one call may hold (base/limits.hpp).
  // Random weights from a seed.
  model(const config& c, std::uint32_t seed);
  // Given weights; their shapes are checked against c.
  model(const config& c, weights w);

  const config& cfg() const { return config_; }
  const weights& params() const { return weights_; }
  std::size_t parameter_count() const;
  // Parameters one token's forward pass multiplies: all but the E − top_k
  // experts it does not use in every layer (= parameter_count() when dense).
  std::size_t active_parameter_count() const;
  // Bytes of all weights as stored: 4 per parameter, less when quantized.
  std::size_t weight_bytes() const;

  // Logits [n, vocab] for every one of the n tokens. Without a cache the tokens
  // are the whole sequence (positions 0 .. n-1). With one they follow the
  // cache->length() tokens it holds, and their K and V are appended to it.
  tensor<2> forward(const std::vector<int>& tokens, kv_cache* cache = nullptr) const;
  // Logits [vocab] of the last token only (what generation needs): the same as
  // the last row of forward(), without computing the other rows' output head.
  tensor<1> next_logits(const std::vector<int>& tokens, kv_cache* cache = nullptr) const;
  // MoE: how many of the tokens chose each expert in every layer ([layers][experts],
  // top-k choices before capacity) in one uncached forward pass over them.
  std::vector<std::vector<std::size_t>> expert_choices(const std::vector<int>& tokens) const;

  // The same model with the linear weights of every layer (wq wk wv wo, and w1
  // w2 or every expert's w1 w2) stored in `format`, each transposed to [out, in]
  // so that blocks and groups run along the input dimension, the one a product
  // sums over. Embeddings, norms and routers stay fp32. Products then use the format's
  // matrix-vector kernel, one token row at a time. Such a model cannot be saved.
  model quantized(const quant::format& format) const;
  // The format of the linear weights: nullptr when they are fp32.
  const quant::format* weight_format() const;

  // logits [rows, vocab] from final hidden rows h [rows, d_model] (after norm_f):
  // h · token_embeddingᵀ when tied, else h · lm_head.
  void output_head(const float* h, std::size_t rows, float* logits) const;

  // A contiguous KV cache sized for this model (max_seq positions).
  contiguous_kv_cache make_cache() const;

  // Binary format, little-endian, version 1:
  //   "MLABGPT1"                    8 bytes magic (the 1 is the version)
  //   layers d_model heads kv_heads d_ff max_seq tied vocab   8 × uint32
  //   token_embedding, position_embedding, then per layer norm1 wq wk wv wo
  //   norm2 w1 w2, then norm_f, then lm_head unless tied    fp32, row-major
  // load() checks the magic, the config, that the size is exactly right (in 64
  // bits, before allocating), the limit on weight bytes, and that every weight is
  // finite; each refusal names the field, tensor or size.
  // Dense models only: version 1 has no field for experts (to_bytes refuses MoE).
  std::vector<std::uint8_t> to_bytes() const;
  static model from_bytes(const std::vector<std::uint8_t>& bytes);
  void save(const std::string& path) const;
  static model load(const std::string& path);

 private:
  // Final hidden states [n, d_model] (after norm_f); choices, if given, gets
  // each MoE layer's expert choices.
  tensor<2> hidden(const std::vector<int>& tokens, kv_cache* cache,
                   std::vector<std::vector<std::size_t>>* choices = nullptr) const;

  // W [in, out] of layer `layer` as named in layer_weights, quantized: [out, in];
  // mlp holds w1 w2, or w1 w2 of expert 0, of expert 1, ...
  struct quantized_layer {
    quant::quantized_matrix wq, wk, wv, wo;
    std::vector<quant::quantized_matrix> mlp;
  };
  // y [n, out] = x [n, in] · W, through the quantized copy when there is one.
  tensor<2> project(const tensor<2>& x, const tensor<2>& w,
                    const quant::quantized_matrix* quantized) const;
  // y [rows, out] += x [rows, in] · W on raw rows (an expert's segment).
  void project_rows(const float* x, std::size_t rows, std::size_t in, const tensor<2>& w,
                    const quant::quantized_matrix* quantized, float* y) const;
  // x += the layer's MLP or MoE block of rms_norm(x).
  void feed_forward(std::size_t layer, tensor<2>& x,
                    std::vector<std::vector<std::size_t>>* choices) const;

  friend class decoder;  // runs the same layers one token at a time

  config config_;
  weights weights_;
  std::vector<quantized_layer> quantized_;  // empty: fp32 linear layers
};

// A decoding step as inference engines run it (llama2.c's forward, a serving
// engine's decode): one token in, its logits out, its K and V appended to the
// cache, every buffer allocated once, when the decoder is made:
//
//   x = token_embedding[token] + position_embedding[pos]     pos = cache.length()
//   for each layer:
//     h = rms_norm(x) · norm1;  q, k, v = h · wq, h · wk, h · wv;  append k, v
//     x += attention::decode(q, the cache's layer) · wo        (attention/decode.hpp)
//     x += gelu(rms_norm(x) · norm2 · w1) · w2                 (or the MoE block)
//   logits = rms_norm(x) · norm_f · token_embeddingᵀ (or · lm_head)
//
// The same model as model::next_logits({token}, &cache), which computes it
// through the general path for n tokens: that path allocates some fourteen
// tensors a layer, and runs attention as flash tiles with an online softmax.
// For a model as small as the tiny GPT, whose weights are read in ~40 us, that
// bookkeeping took a third of a step. The logits agree to fp32 rounding (the
// softmax and the sums into x run in another order), not bit for bit.
//
// A dense model's step allocates nothing; an MoE layer routes through the
// general path's feed_forward (its routing tables), and a quantized model's
// products use the format's kernel, which allocates y and its activation codes
// (quant/matvec.hpp).
class decoder {
 public:
  // Keeps m and cache by reference: both must outlive the decoder. The cache
  // must have the model's layers, kv_heads and head_dim, and may hold tokens.
  decoder(const model& m, kv_cache& cache);

  // The logits [vocab] of `token` at position cache.length(); its K and V are
  // appended to the cache. Valid until the next step. Throws, changing nothing,
  // memlab::invalid_argument for a token outside [0, 256) or a position past
  // max_seq, and what the cache's append throws when it is full (a paged
  // cache's out_of_blocks) in the first layer, before anything is stored.
  const tensor<1>& step(int token);

  // The bytes a decoder holds: 3 · d_model (x; the normed x, then attention's
  // output; q, as heads · head_dim = d_model) + 2 · kv_heads · head_dim (k, v) +
  // d_ff (the MLP's hidden) + max_seq (one head's scores) + vocab (the logits)
  // floats, in 64 bits.
  static count bytes(const config& c);

 private:
  const model& model_;
  kv_cache& cache_;
  tensor<2> x_;       // [1, d_model] the residual stream (2-d for the MoE block)
  tensor<1> h_;       // [d_model] the normed x; then attention's output
  tensor<1> q_;       // [heads · head_dim = d_model]
  tensor<3> k_, v_;   // [kv_heads, 1, head_dim], as the cache appends them
  tensor<1> hidden_;  // [d_ff]
  tensor<1> scores_;  // [max_seq]
  tensor<1> logits_;  // [vocab]
};

// Bytes of K and V a model with this config keeps for `tokens` tokens:
// 2 · layers · kv_heads · tokens · head_dim · 4, in 64 bits. Checks the config,
// and refuses more than 2^53 bytes (8 PiB: past it a JS number is not exact).
std::uint64_t kv_cache_bytes(const config& c, std::uint64_t tokens);

// Text <-> byte tokens.
std::vector<int> encode(const std::string& text);
std::string decode(const std::vector<int>& tokens);

}  // namespace memlab::gpt
