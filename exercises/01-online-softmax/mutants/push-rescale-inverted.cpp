// mutant: softmax_push rescales the old sum by exp(x - old_max) instead of exp(old_max - x)
// expect: after pushing {1}: expected max 1, sum 1; got max 1, sum NaN — the sum is NaN: 0 · inf

#include <algorithm>
#include <cmath>
#include <limits>

#include "memlab_lab.hpp"

struct softmax_state {
  float max = -std::numeric_limits<float>::infinity();
  float sum = 0.0f;
};

softmax_state softmax_push(softmax_state s, float x) {
  if (x == -std::numeric_limits<float>::infinity()) return s;  // exp(-inf) = 0
  if (x > s.max) {
    // exp(-inf - x) = 0 on the first finite value: the empty sum stays 0
    s.sum = s.sum * std::exp(x - s.max) + 1.0f;
    s.max = x;
  } else {
    s.sum += std::exp(x - s.max);
  }
  return s;
}

softmax_state softmax_merge(softmax_state a, softmax_state b) {
  const float inf = std::numeric_limits<float>::infinity();
  if (b.max == -inf) return a;
  if (a.max == -inf) return b;
  const float max = std::max(a.max, b.max);
  return {max, a.sum * std::exp(a.max - max) + b.sum * std::exp(b.max - max)};
}

void online_softmax(lab::span<const float> x, lab::span<float> out) {
  softmax_state s;
  for (float v : x) s = softmax_push(s, v);
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = std::exp(x[i] - s.max) / s.sum;
}
