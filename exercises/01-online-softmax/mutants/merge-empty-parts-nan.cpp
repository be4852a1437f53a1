// mutant: softmax_merge has no case for an empty part: two empty parts give exp(-inf - (-inf)) =
// NaN
// expect: merging the states of {} and {}: expected max -inf, sum 0; got max -inf, sum NaN

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
    s.sum = s.sum * std::exp(s.max - x) + 1.0f;
    s.max = x;
  } else {
    s.sum += std::exp(x - s.max);
  }
  return s;
}

softmax_state softmax_merge(softmax_state a, softmax_state b) {
  const float max = std::max(a.max, b.max);
  return {max, a.sum * std::exp(a.max - max) + b.sum * std::exp(b.max - max)};
}

void online_softmax(lab::span<const float> x, lab::span<float> out) {
  softmax_state s;
  for (float v : x) s = softmax_push(s, v);
  for (std::size_t i = 0; i < x.size(); ++i) out[i] = std::exp(x[i] - s.max) / s.sum;
}
