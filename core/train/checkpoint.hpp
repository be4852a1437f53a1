// train/checkpoint.hpp — activation checkpointing on a stack of residual MLP
// blocks, with a hand-written backward pass and exact memory accounting.
//
// The stack: n blocks, each  y = x + gelu(x · W1) · W2,  x [B, d], W1 [d, f],
// W2 [f, d] (no biases; GELU in GPT-2's tanh form). Loss = ½ Σ (x_n − target)².
//
// Backward of a block needs its input x_i and its pre-activation p_i = x_i · W1.
// Storing them for every block costs O(n) memory. Checkpointing stores only the
// inputs of some blocks (the checkpoints c_0 = 0 < c_1 < ... < c_{m-1}) during
// the forward pass; the backward pass walks the segments [c_j, c_{j+1}) from the
// last to the first, re-runs each segment's forward from its checkpoint (storing
// x_i and p_i for the segment only), back-propagates through it, and frees it.
// The last segment is stored in full during the forward pass (it is
// back-propagated straight away), so recomputed blocks = n − L_{m-1}.
//
// Policies (checkpoint sets; block 0 is always one: the input itself is kept):
//   none          {0}, the whole stack one stored segment: no recompute
//   every k       {0, k, 2k, ...}
//   sqrt          every k with k = ceil(sqrt(n)): about sqrt(n) segments of
//                 about sqrt(n) blocks (Chen et al. 2016, "Training deep nets
//                 with sublinear memory cost")
//   explicit set  {0} ∪ the given blocks
//
// Memory formula (bytes; asserted exactly by the tests). With a = 4·B·d (one
// activation row block), h = 4·B·f (one hidden), segment lengths L_0 .. L_{m-1}:
//
//   peak = max( (m + L_{m-1})·a + (L_{m-1} + 1)·h,                 last segment
//               max_{j < m-1} (j + 1 + L_j)·a + (L_j + 1)·h )      segment j
//
// Where it comes from: at the worst moment of segment j's backward the live
// tensors are the checkpoints not yet consumed (j+1 inputs, the last segment's
// forward also holds all m), the loss gradient dy (a, which is x_n reused in
// place), the segment's stored inputs after its checkpoint (L_j − 1 of a), its
// pre-activations (L_j of h) and one transient hidden (h). For none (m = 1,
// L = n) that is (n+1)·(a+h); for sqrt at n = 16 it is 8a + 5h.
// Parameter gradients are owned by the caller and not counted.
//
// Gradients are bitwise identical across policies: the recomputation runs the
// same code in the same order on bitwise the same inputs, so it reproduces the
// stored values exactly (no reassociation, no threads).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/memory.hpp"

namespace memlab::checkpoint {

struct mlp_block {
  tensor<2> w1;  // [d, f]
  tensor<2> w2;  // [f, d]
};

// n residual MLP blocks with random weights (normal, std 1/sqrt(d) for W1 and
// 1/sqrt(f)/sqrt(n) for W2, so activations stay O(1) through the stack).
struct mlp_stack {
  mlp_stack(int layers, int width, int hidden, std::uint32_t seed);
  std::size_t width() const { return blocks.front().w1.shape(0); }
  std::size_t hidden() const { return blocks.front().w1.shape(1); }
  std::vector<mlp_block> blocks;
};

// dL/dW1, dL/dW2 of each block, shaped like the stack's weights.
struct gradients {
  explicit gradients(const mlp_stack& s);
  void zero();
  std::vector<mlp_block> blocks;
};

struct policy {
  enum class kind { none, every, sqrt, set };
  kind what = kind::none;
  int k = 0;                // for every
  std::vector<int> blocks;  // for set

  static policy none() { return {}; }
  static policy every(int k) { return {kind::every, k, {}}; }
  static policy sqrt_n() { return {kind::sqrt, 0, {}}; }
  static policy at(std::vector<int> blocks) { return {kind::set, 0, std::move(blocks)}; }
  // "none", "sqrt", "every:4" / "every4", "set:0,5,9"; throws on anything else.
  static policy parse(const std::string& text);
  std::string name() const;
};

// The checkpoints (sorted, unique, starting with 0) of a policy for n layers.
// Throws memlab::invalid_argument for layers <= 0, k <= 0, or a block outside
// [0, layers).
std::vector<int> checkpoints(const policy& p, int layers);

// The formula above, in bytes, for batch rows B, width d, hidden f.
// In 64 bits (saturating at 2^64 - 1).
std::uint64_t peak_activation_bytes(const std::vector<int>& checkpoints, int layers,
                                    std::uint64_t batch, std::uint64_t width, std::uint64_t hidden);

// An upper bound on a step's work whatever the policy, in flops of time:
// forward, a recomputation of every block at most, and a backward of twice the
// forward, 2 · 2 · B · d · f each per block: 12 · B · d · f · layers; and the
// element-wise passes (GELU and its derivative, residuals, copies), which
// dominate for narrow blocks: about 1000 per activation value, B · (d + f) per
// block (measured in wasm: a step of B 10^5, d 4, f 8 runs at 0.12 GFLOP/s of
// the first term alone).
double step_flops(int layers, std::uint64_t batch, std::uint64_t width, std::uint64_t hidden);

struct step_result {
  double loss = 0;               // ½ Σ (x_n − target)²
  tensor<2> input_grad;          // dL/dx_0 [B, d]
  std::size_t peak_bytes = 0;    // tracker peak of the step above its start
  int recomputed_blocks = 0;     // blocks whose forward ran a second time
  std::vector<int> checkpoints;  // the policy's checkpoint set
  // When asked for: (ms, live bytes above the start) after every allocation and
  // free, and the time the backward pass began.
  std::vector<memory::event> timeline;
  double backward_start_ms = 0;
};

// One forward + backward pass of x [B, d] against target [B, d]; the parameter
// gradients are accumulated into grads (zero them first). Costs about
// 6·B·d·f·(n + recomputed) multiply-adds. Refuses a step past the limits of
// base/limits.hpp (the activations of policy none, step_flops).
step_result train_step(const mlp_stack& s, const tensor<2>& x, const tensor<2>& target,
                       const policy& p, gradients& grads, bool record_timeline = false);

// The loss alone (a forward pass without storing anything), for finite differences.
double loss(const mlp_stack& s, const tensor<2>& x, const tensor<2>& target);

}  // namespace memlab::checkpoint
