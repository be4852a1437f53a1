// Exercise 13 — Mixture of Experts: top-k routing and dispatch with capacity.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "memlab_lab.hpp"

// Where the tokens of one call go. Assignment i = token · top_k + rank.
struct routing {
  std::size_t tokens = 0, experts = 0, top_k = 0;
  std::size_t capacity = 0;  // C: slots per expert
  std::vector<int> choice;   // [tokens · top_k] expert of each rank, largest probability first
  std::vector<float> gate;   // [tokens · top_k] its gate
  std::vector<int> slot;     // [tokens · top_k] its slot in the expert's buffer; -1: dropped
  std::vector<int> load;     // [experts] slots filled
};

// x := softmax(x), stable for large values.
void softmax(lab::span<float> x) {
  // TODO: subtract the max, exponentiate, divide by the sum.
  (void)x;
}

// C = max(1, floor(capacity_factor · top_k · tokens / experts)).
std::size_t expert_capacity(std::size_t tokens, std::size_t experts, std::size_t top_k,
                            float capacity_factor) {
  // TODO
  (void)tokens, (void)experts, (void)top_k, (void)capacity_factor;
  return 0;
}

// Routes tokens given their router logits [tokens, experts]:
//   - each token's probabilities: softmax of its row;
//   - its top_k experts, largest probability first, ties to the lower index;
//   - their gates: p / (sum of the top_k p) when top_k >= 2, p itself when top_k = 1;
//   - the slots: rank by rank, token by token, each assignment takes its
//     expert's next slot while fewer than C are filled; otherwise slot -1.
routing route(lab::matrix_view<const float> logits, std::size_t top_k, float capacity_factor) {
  routing r;
  // TODO: sizes, capacity, choice, gate, slot (-1 when dropped), load.
  (void)logits, (void)top_k, (void)capacity_factor;
  return r;
}

// The experts' input buffer [experts · capacity, d]: row e · C + slot holds the
// token's row of x [tokens, d]; slots nobody took are zero.
lab::matrix dispatch(lab::matrix_view<const float> x, const routing& r) {
  // TODO
  (void)x, (void)r;
  return {};
}

// y [tokens, d]: each token's Σ gate · out[e · C + slot] over its kept assignments,
// out [experts · capacity, d] being the experts' outputs.
lab::matrix combine(lab::matrix_view<const float> out, const routing& r) {
  // TODO
  (void)out, (void)r;
  return {};
}
