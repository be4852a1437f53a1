// Exercise 1 — online softmax: one pass for the running max and sum.
// Read README.md first. Fill in the three TODOs; test.cpp checks them.
#include <cmath>
#include <limits>

#include "memlab_lab.hpp"

// The softmax state of the values seen so far:
//   max = the largest of them (-inf before any),
//   sum = Σ exp(x - max) over them (0 before any).
struct softmax_state {
  float max = -std::numeric_limits<float>::infinity();
  float sum = 0.0f;
};

// Adds one value x to the state. O(1).
softmax_state softmax_push(softmax_state s, float x) {
  // TODO: if x is a new maximum, the old sum was taken relative to the old
  // max: rescale it by exp(old_max - x) before adding exp(x - x) = 1.
  // Otherwise add exp(x - max). A masked value (x = -inf) adds nothing; make
  // sure it cannot produce exp(-inf - (-inf)) = NaN.
  (void)x;
  return s;
}

// The state of the union of two disjoint parts, from the states of the parts:
// what FlashAttention does when it moves from one tile of keys to the next. O(1).
softmax_state softmax_merge(softmax_state a, softmax_state b) {
  // TODO: bring both sums to the common maximum, then add them. An empty part
  // (max = -inf, sum = 0) must leave the other unchanged.
  (void)b;
  return a;
}

// out[i] = exp(x[i] - max) / sum, with max and sum from ONE pass over x with
// softmax_push, then one pass to write out. x and out have the same size.
void online_softmax(lab::span<const float> x, lab::span<float> out) {
  // TODO: pass 1: the state of all of x. Pass 2: write out.
  (void)x;
  (void)out;
}
