// Exercise 1 — online softmax: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "exercise.cpp"
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
  if (max == -inf) return {max, sum};  // nothing but masked values: the empty state
  for (float v : x) sum += std::exp(v - max);
  return {max, sum};
}

// The state as the tests print it: "max 3, sum 1.5".
std::string state(double max, double sum) {
  return "max " + lab::testing::number(max) + ", sum " + lab::testing::number(sum);
}

// What a NaN or inf sum most likely comes from.
std::string sum_hint(float sum) {
  if (std::isnan(sum))
    return " — the sum is NaN: 0 · inf, inf / inf or exp(-inf - (-inf)) somewhere (an exp that "
           "overflowed, or a masked -inf that was not skipped?)";
  if (std::isinf(sum))
    return " — the sum overflowed: exp of a value not taken relative to the max?";
  return "";
}

// The state matches the reference: the same max, the sum to a relative tolerance.
bool same_state(const softmax_state& s, const reference_state& r, double tolerance) {
  return s.max == r.max && std::fabs(s.sum - r.sum) <= tolerance * r.sum;
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
  for (std::size_t i = 0; i < x.size(); ++i) s << (i ? ", " : "") << lab::testing::number(x[i]);
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
      {1, 2, 3, 4},              // every value a new maximum: the sum is rescaled each time
      {4, 3, 2, 1},              // the first value stays the maximum
      {0.5f, 0.5f, 0.5f},        // ties
      {-3, 7, -1, 7, 2.5f},      // mixed
      {-20, -30, -10},           // all negative
      {10000, -10000, 10001},    // 2e4 apart: exp of anything but x - max overflows
      {-inf, -inf, 2, -inf, 3},  // masked values first: the state stays empty until 2
  };
  for (const auto& x : cases) {
    softmax_state s;
    std::vector<float> prefix;
    for (float v : x) {
      s = softmax_push(s, v);
      prefix.push_back(v);
      const reference_state r = reference(prefix);
      if (!CHECK_MESSAGE(same_state(s, r, 1e-6),
                         "after pushing " << list(prefix) << ": expected " << state(r.max, r.sum)
                                          << "; got " << state(s.max, s.sum) << sum_hint(s.sum)))
        break;
    }
  }
}

TEST_CASE("softmax_merge of two parts gives the state of the whole, empty or 2e4 apart") {
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
      CHECK_MESSAGE(same_state(m, r, 1e-5), n << " values split after " << split << ": expected "
                                              << state(r.max, r.sum) << "; got "
                                              << state(m.max, m.sum) << sum_hint(m.sum));
    }
  }
  // Parts far apart, in both orders: only sums rescaled to the common max survive
  // (exp(1e4) overflows). And two empty parts make an empty whole, not a NaN.
  const std::vector<float> parts[][2] = {
      {{10000, 9999}, {-10000, 9998}},
      {{-10000, 9998}, {10000, 9999}},
      {{-10000}, {10000}},
      {{}, {}},
  };
  for (const auto& p : parts) {
    softmax_state a, b;
    for (float v : p[0]) a = softmax_push(a, v);
    for (float v : p[1]) b = softmax_push(b, v);
    std::vector<float> whole = p[0];
    whole.insert(whole.end(), p[1].begin(), p[1].end());
    const reference_state r = reference(whole);
    const softmax_state m = softmax_merge(a, b);
    CHECK_MESSAGE(same_state(m, r, 1e-6), "merging the states of "
                                              << list(p[0]) << " and " << list(p[1])
                                              << ": expected " << state(r.max, r.sum) << "; got "
                                              << state(m.max, m.sum) << sum_hint(m.sum));
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
    CHECK_MESSAGE(std::fabs(total - 1) <= 1e-5,
                  "the probabilities add up to " << total << ", expected 1");
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
      {{10000, 9999, 9998}, p012},     {{-9998, -9999, -10000}, p012}, {{10000, 10000}, {0.5, 0.5}},
      {{10000, 0, -10000}, {1, 0, 0}}, {{-10000, 10000}, {0, 1}},
  };
  for (const auto& c : cases) {
    INFO("logits " << list(c.x));
    const std::vector<float> p = softmax_of(c.x);
    CHECK_FINITE("p", p, 0, "exp overflowed: row max not subtracted?");
    CHECK_CLOSE("p", p, c.expected, 1e-6);
  }
  // 1000 logits around 1e4 (1e4 + 5 · N(0, 1)) against the double-precision softmax
  lab::rng gen(4);
  std::vector<float> x(1000);
  gen.fill_normal(x, 5.0f);
  for (float& v : x) v += 10000;
  const std::vector<float> p = softmax_of(x);
  INFO("1000 logits, 1e4 + 5 · N(0, 1)");
  CHECK_FINITE("p", p, 0, "exp overflowed: row max not subtracted?");
  CHECK_CLOSE("p", p, reference_softmax(x), 2e-6);
}

TEST_CASE("masked logits (-inf) get probability 0 and do not poison the sum") {
  // pushing -inf changes nothing, into an empty state or not
  const softmax_state states[] = {softmax_state{}, softmax_state{3, 1.5f}};
  for (const softmax_state& before : states) {
    const softmax_state after = softmax_push(before, -inf);
    CHECK_MESSAGE((after.max == before.max && after.sum == before.sum),
                  "pushing -inf into {" << state(before.max, before.sum) << "} gave {"
                                        << state(after.max, after.sum)
                                        << "}, expected it unchanged: a masked value adds "
                                        << "exp(-inf) = 0, and exp(-inf - (-inf)) would be NaN");
  }
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
