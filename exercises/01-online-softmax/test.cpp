// Exercise 1 — online softmax: the tests (the same natively and in the browser).
#include "exercise.cpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "memlab_test.hpp"

namespace {

const float inf = std::numeric_limits<float>::infinity();

// max and Σ exp(x - max) of a list, in double.
struct reference_state {
  double max, sum;
};

reference_state reference(const std::vector<float>& x) {
  double max = -inf;
  for (float v : x) max = std::max(max, static_cast<double>(v));
  double sum = 0;
  for (float v : x) sum += std::exp(v - max);
  return {max, sum};
}

std::vector<double> reference_softmax(const std::vector<float>& x) {
  const reference_state r = reference(x);
  std::vector<double> p;
  for (float v : x) p.push_back(std::exp(v - r.max) / r.sum);
  return p;
}

std::string list(const std::vector<float>& x) {
  std::ostringstream s;
  s << "{";
  for (std::size_t i = 0; i < x.size(); ++i) s << (i ? ", " : "") << x[i];
  s << "}";
  return s.str();
}

// Runs online_softmax on x, into an output first filled with NaN.
std::vector<float> softmax_of(const std::vector<float>& x) {
  std::vector<float> out(x.size(), std::numeric_limits<float>::quiet_NaN());
  online_softmax(x, out);
  return out;
}

}  // namespace

TEST_CASE("softmax_push keeps the max and the sum of every prefix") {
  const std::vector<std::vector<float>> cases = {
      {1, 2, 3, 4},          // every value a new maximum: the sum is rescaled each time
      {4, 3, 2, 1},          // the first value stays the maximum
      {0.5f, 0.5f, 0.5f},    // ties
      {-3, 7, -1, 7, 2.5f},  // mixed
      {-20, -30, -10},       // all negative
  };
  for (const auto& x : cases) {
    softmax_state s;
    std::vector<float> prefix;
    for (float v : x) {
      s = softmax_push(s, v);
      prefix.push_back(v);
      const reference_state r = reference(prefix);
      INFO("after pushing " << list(prefix) << ": expected max " << r.max << ", sum " << r.sum
                            << "; got max " << s.max << ", sum " << s.sum);
      CHECK(s.max == r.max);
      CHECK(std::fabs(s.sum - r.sum) <= 1e-6 * r.sum);
    }
  }
}

TEST_CASE("softmax_merge of two parts gives the state of the whole") {
  lab::rng gen(1);
  for (std::size_t n : {2, 5, 17, 64}) {
    std::vector<float> x(n);
    gen.fill_normal(x, 4.0f);
    for (std::size_t split = 0; split <= n; split += (n > 8 ? 7 : 1)) {
      softmax_state a, b;
      for (std::size_t i = 0; i < split; ++i) a = softmax_push(a, x[i]);
      for (std::size_t i = split; i < n; ++i) b = softmax_push(b, x[i]);
      const softmax_state m = softmax_merge(a, b);
      const reference_state r = reference(x);
      INFO(n << " values split after " << split << ": expected max " << r.max << ", sum " << r.sum
             << "; got max " << m.max << ", sum " << m.sum);
      CHECK(m.max == r.max);
      CHECK(std::fabs(m.sum - r.sum) <= 1e-5 * r.sum);
    }
  }
}

TEST_CASE("online_softmax matches a double-precision softmax") {
  lab::rng gen(2);
  for (std::size_t n : {1, 2, 7, 100, 1000}) {
    std::vector<float> x(n);
    gen.fill_normal(x, 5.0f);
    const std::vector<float> p = softmax_of(x);
    INFO(n << " logits, 5 · N(0, 1)");
    CHECK_CLOSE("p", p, reference_softmax(x), 2e-6);
    double total = 0;
    for (float v : p) total += v;
    CHECK_MESSAGE(std::fabs(total - 1) <= 1e-5, "the probabilities add up to " << total << ", expected 1");
  }
}

TEST_CASE("logits of magnitude 1e4 give the hand-computed probabilities") {
  // exp(1e4) overflows a float: only the max-subtracted form survives.
  // softmax(0, -1, -2) = (1, e^-1, e^-2) / (1 + e^-1 + e^-2), whatever is added to all three.
  const std::vector<double> p012 = {0.6652409557748219, 0.24472847105479764, 0.09003057317038046};
  struct {
    std::vector<float> x;
    std::vector<double> expected;
  } cases[] = {
      {{10000, 9999, 9998}, p012},
      {{-9998, -9999, -10000}, p012},
      {{10000, 10000}, {0.5, 0.5}},
      {{10000, 0, -10000}, {1, 0, 0}},
      {{-10000, 10000}, {0, 1}},
  };
  for (const auto& c : cases) {
    INFO("logits " << list(c.x));
    CHECK_CLOSE("p", softmax_of(c.x), c.expected, 1e-6);
  }
}

TEST_CASE("masked logits (-inf) get probability 0 and do not poison the sum") {
  struct {
    std::vector<float> x;
    std::vector<double> expected;
  } cases[] = {
      {{-inf, 3, -inf}, {0, 1, 0}},
      {{-inf, -inf, 2, 2}, {0, 0, 0.5, 0.5}},  // the state starts with -inf pushes
      {{1, -inf}, {1, 0}},
  };
  for (const auto& c : cases) {
    INFO("logits " << list(c.x));
    CHECK_CLOSE("p", softmax_of(c.x), c.expected, 1e-7);
  }
}

// The page's chart once the tests pass: time and heap of online_softmax by length.
MEMLAB_BENCHMARK("online_softmax", "n", 1000, 10000, 100000, 1000000) {
  lab::rng gen(3);
  std::vector<float> x(n), out(n);
  gen.fill_normal(x, 5.0f);
  lab::bench::report(n, lab::bench::measure([&] { online_softmax(x, out); }));
}
