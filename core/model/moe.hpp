// model/moe.hpp — a Mixture-of-Experts feed-forward block for the tiny GPT.
//
// A dense layer sends every token through one MLP, gelu(h · W1) · W2. An MoE
// layer holds E such MLPs (the experts, each W1 [d_model, d_ff], W2 [d_ff,
// d_model]) and a router W_r [d_model, E]; each token goes to k of them:
//
//   p_t    = softmax(h_t · W_r)                   [E] router probabilities
//   top_t  = the k experts of largest p_t         (ties: the lower index first)
//   g_t,e  = p_t,e / Σ_{j ∈ top_t} p_t,j          k >= 2: renormalised (GShard's
//                                                 top-2 gating, Mixtral)
//          = p_t,e                                k = 1: the probability itself
//                                                 (Switch Transformer: a single
//                                                 renormalised gate is 1, and the
//                                                 router would get no gradient from
//                                                 the language-model loss)
//   y_t    = Σ_{e ∈ top_t, kept} g_t,e · expert_e(h_t)
//
// Capacity. With a capacity factor cf > 0, each expert takes at most
//   C = max(1, floor(cf · k · n / E))
// of the (token, expert) assignments of the n tokens of one forward call. The
// assignments are served by rank, then by token: every token's first choice
// before any token's second choice, tokens in order (flaxformer's
// TokensChooseMaskedRouter, which HF's SwitchTransformers port uses; Mesh
// TensorFlow's top-2 gating gives second choices the places after all first
// ones in the same way). An assignment past C is dropped: its term is left out
// of y_t and nothing else changes (the gates of the token's other experts keep
// their values), so a token that loses all its experts passes through the
// residual unchanged (x += 0). cf = 0: no capacity, nothing is dropped (Mixtral).
// The tokens of one call form the group: with a KV cache, a decoded token is a
// group of one (it never drops when k <= E), while an uncached run routes the
// whole sequence at once; with no capacity both give the same logits.
//
// Load-balancing loss (Switch Transformer eq. 4–6; flaxformer's
// _load_balancing_loss):
//   aux = E · Σ_e f_e · P_e,  f_e = share of the n tokens that have e among
//                                   their top k (before capacity),
//                             P_e = mean over tokens of p_t,e.
// f is a count (no gradient); the loss pushes the mean probabilities of the
// crowded experts down. Balanced routing gives f_e = k / E, P_e = 1 / E: aux = k.
// Training adds aux_loss_coef · (mean of aux over layers) to the loss (gpt.hpp).
//
// Dispatch. The expert inputs sit in one buffer of R rows grouped by expert,
// [first[e], first[e] + load[e]) for expert e: with a capacity R = E · C and
// expert e starts at e · C (Switch's static [experts, capacity, d] shape: the
// tail of a segment stays empty), without one R = n · k and the segments are
// packed. R depends on n, E, k and cf only, never on the routing, so every
// buffer's size is known in advance (the memory planner counts them).
//
// Costs per token: router d · E, experts k · 2 · d · d_ff multiply-adds (a dense
// MLP of width d_ff: 2 · d · d_ff). Memory: all E experts stay resident —
// parameters E · 2 · d · d_ff + d · E per layer, of which k · 2 · d · d_ff + d · E
// are active for a token.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "base/memory.hpp"

namespace memlab::moe {

struct expert {
  tensor<2> w1;  // [d_model, d_ff]
  tensor<2> w2;  // [d_ff, d_model]
};

// Throws memlab::invalid_argument naming the first bad value: experts >= 1,
// top_k in [1, experts], capacity_factor 0 or positive and finite.
void check(int experts, int top_k, float capacity_factor);

// C above for n tokens; 0 means no capacity (cf = 0).
std::size_t capacity(std::size_t tokens, int experts, int top_k, float capacity_factor);
// R above: rows of the dispatch buffer for n tokens.
std::size_t dispatch_rows(std::size_t tokens, int experts, int top_k, float capacity_factor);

// Where the n tokens of one call go. Every array is tracked (training keeps one
// per layer), 4-byte entries so that the bytes are the same natively and in wasm.
struct routing {
  std::size_t tokens = 0, experts = 0, top_k = 0;
  std::size_t capacity = 0;     // C; 0: none
  tensor<2> probs;              // [n, E] router probabilities
  buffer<std::int32_t> choice;  // [n, k] expert of each rank, by descending probability
  buffer<float> gate;           // [n, k] g_t,e of that choice
  buffer<std::int32_t> row;     // [n, k] row in the dispatch buffer; -1: dropped
  buffer<std::int32_t> first;   // [E + 1] first row of each expert's segment; first[E] = R
  buffer<std::int32_t> load;    // [E] assignments kept per expert
  double aux_loss = 0;          // E · Σ f_e P_e

  std::size_t rows() const { return static_cast<std::size_t>(first[experts]); }
  std::size_t dropped() const;  // assignments over capacity
  // f_e · n: tokens that have expert e among their top k, before capacity.
  std::vector<std::size_t> chosen() const;
};

// Routes the rows of h [n, d_model] with router [d_model, E]. Costs n · d · E
// multiply-adds plus n · E for the top-k. Throws on a bad top_k or capacity.
routing route(const tensor<2>& h, const tensor<2>& router, int top_k, float capacity_factor);

// The dispatch buffer [R, d]: row r holds the h row of the assignment that
// owns it; the empty rows of a segment are zero.
tensor<2> dispatch(const tensor<2>& h, const routing& r);
// y [n, d] = Σ over kept assignments of gate · out[row], out [R, d].
tensor<2> combine(const tensor<2>& out, const routing& r);

// ---- training (hand-written backward; train/train.cpp calls these) ----------

// What one layer's backward needs: the routing and the experts'
// pre-activations [R, d_ff]. The block's input h is kept by the caller.
struct activations {
  routing route;
  tensor<2> pre;
};

// y [n, d] of the block on h [n, d] (the expert MLPs with GELU in its tanh form
// through std::tanh, as train/train.cpp's dense MLP), keeping what backward needs.
tensor<2> forward(const tensor<2>& h, const tensor<2>& router, const std::vector<expert>& experts,
                  int top_k, float capacity_factor, activations& a);

// Given dy = dL/dy [n, d], accumulates the gradients of the router and the
// experts and returns dL/dh [n, d]; aux_scale is dL/d(aux) of this layer (the
// load-balancing loss's weight in the total loss).
tensor<2> backward(const tensor<2>& h, const tensor<2>& router, const std::vector<expert>& experts,
                   const activations& a, const tensor<2>& dy, float aux_scale,
                   tensor<2>& router_grad, std::vector<expert>& expert_grads);

}  // namespace memlab::moe
