// mutant: load counts every assignment, dropped ones too
// expect: load counts the slots filled, dropped assignments excluded

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
  const float max = *std::max_element(x.begin(), x.end());
  float sum = 0;
  for (float& v : x) sum += (v = std::exp(v - max));
  for (float& v : x) v /= sum;
}

// C = max(1, floor(capacity_factor · top_k · tokens / experts)).
std::size_t expert_capacity(std::size_t tokens, std::size_t experts, std::size_t top_k,
                            float capacity_factor) {
  const double c =
      std::floor(double(capacity_factor) * double(top_k) * double(tokens) / double(experts));
  return std::max<std::size_t>(1, static_cast<std::size_t>(c));
}

// Routes tokens given their router logits [tokens, experts].
routing route(lab::matrix_view<const float> logits, std::size_t top_k, float capacity_factor) {
  routing r;
  r.tokens = logits.rows(), r.experts = logits.cols(), r.top_k = top_k;
  r.capacity = expert_capacity(r.tokens, r.experts, top_k, capacity_factor);
  r.choice.assign(r.tokens * top_k, -1);
  r.gate.assign(r.tokens * top_k, 0.0f);
  r.slot.assign(r.tokens * top_k, -1);
  r.load.assign(r.experts, 0);
  std::vector<float> p(r.experts);
  for (std::size_t t = 0; t < r.tokens; ++t) {
    std::copy(logits.row(t).begin(), logits.row(t).end(), p.begin());
    softmax(p);
    int* choice = &r.choice[t * top_k];
    float kept = 0;
    for (std::size_t i = 0; i < top_k; ++i) {
      int best = -1;
      for (std::size_t e = 0; e < r.experts; ++e) {
        if (std::find(choice, choice + i, int(e)) != choice + i) continue;
        if (best < 0 || p[e] > p[std::size_t(best)]) best = int(e);
      }
      choice[i] = best;
      kept += p[std::size_t(best)];
    }
    for (std::size_t i = 0; i < top_k; ++i) {
      const float pi = p[std::size_t(choice[i])];
      r.gate[t * top_k + i] = top_k == 1 ? pi : pi / kept;
    }
  }
  for (std::size_t i = 0; i < top_k; ++i)  // rank first: every first choice before any second
    for (std::size_t t = 0; t < r.tokens; ++t) {
      const std::size_t a = t * top_k + i, e = std::size_t(r.choice[a]);
      if (std::size_t(r.load[e]) < r.capacity) r.slot[a] = r.load[e];
      ++r.load[e];
    }
  return r;
}

// The experts' input buffer [experts · capacity, d]: row e · C + slot holds the
// token's row of x [tokens, d]; slots nobody took are zero.
lab::matrix dispatch(lab::matrix_view<const float> x, const routing& r) {
  lab::matrix buffer(r.experts * r.capacity, x.cols());
  for (std::size_t a = 0; a < r.slot.size(); ++a) {
    if (r.slot[a] < 0) continue;
    const std::size_t row = std::size_t(r.choice[a]) * r.capacity + std::size_t(r.slot[a]);
    std::copy(x.row(a / r.top_k).begin(), x.row(a / r.top_k).end(), buffer.row(row).begin());
  }
  return buffer;
}

// y [tokens, d]: each token's Σ gate · out[e · C + slot] over its kept assignments,
// out [experts · capacity, d] being the experts' outputs.
lab::matrix combine(lab::matrix_view<const float> out, const routing& r) {
  lab::matrix y(r.tokens, out.cols());
  for (std::size_t a = 0; a < r.slot.size(); ++a) {
    if (r.slot[a] < 0) continue;
    const std::size_t row = std::size_t(r.choice[a]) * r.capacity + std::size_t(r.slot[a]);
    for (std::size_t c = 0; c < out.cols(); ++c) y(a / r.top_k, c) += r.gate[a] * out(row, c);
  }
  return y;
}
