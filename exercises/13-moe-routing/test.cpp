// Exercise 13 — MoE routing and dispatch with capacity: the tests (the same
// natively and in the browser).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

namespace {

// ---- an independent reference, in double precision ---------------------------

struct reference_routing {
  std::size_t capacity = 0;
  std::vector<std::vector<double>> p;  // [tokens][experts]
  std::vector<int> choice, slot;       // [tokens · k]
  std::vector<double> gate;            // [tokens · k]
  std::vector<int> load;               // [experts]
};

reference_routing reference_route(lab::matrix_view<const float> logits, std::size_t k, double cf) {
  const std::size_t n = logits.rows(), E = logits.cols();
  reference_routing r;
  r.capacity = std::max<std::size_t>(1, std::size_t(std::floor(cf * double(k * n) / double(E))));
  for (std::size_t t = 0; t < n; ++t) {
    std::vector<double> p(E);
    double max = -1e300, sum = 0;
    for (std::size_t e = 0; e < E; ++e) max = std::max(max, double(logits(t, e)));
    for (std::size_t e = 0; e < E; ++e) sum += (p[e] = std::exp(double(logits(t, e)) - max));
    for (double& x : p) x /= sum;
    std::vector<int> order(E);
    std::iota(order.begin(), order.end(), 0);  // a stable sort keeps ties in index order
    std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return p[a] > p[b]; });
    double top = 0;
    for (std::size_t i = 0; i < k; ++i) top += p[std::size_t(order[i])];
    for (std::size_t i = 0; i < k; ++i) {
      r.choice.push_back(order[i]);
      r.gate.push_back(k == 1 ? p[std::size_t(order[i])] : p[std::size_t(order[i])] / top);
    }
    r.p.push_back(p);
  }
  r.slot.assign(n * k, -1);
  r.load.assign(E, 0);
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t t = 0; t < n; ++t) {
      const std::size_t e = std::size_t(r.choice[t * k + i]);
      if (std::size_t(r.load[e]) < r.capacity) r.slot[t * k + i] = r.load[e]++;
    }
  return r;
}

// Checks the routing's sizes; false (with a message) when they are wrong, so that
// a test stops before reading past the end of an array.
bool sizes_ok(const routing& r, std::size_t tokens, std::size_t experts, std::size_t k) {
  const std::size_t a = tokens * k;
  bool ok = CHECK_MESSAGE(r.choice.size() == a, "choice has "
                                                    << r.choice.size()
                                                    << " entries, expected tokens · top_k = " << a);
  ok &=
      CHECK_MESSAGE(r.gate.size() == a, "gate has " << r.gate.size() << " entries, expected " << a);
  ok &=
      CHECK_MESSAGE(r.slot.size() == a, "slot has " << r.slot.size() << " entries, expected " << a);
  ok &= CHECK_MESSAGE(
      r.load.size() == experts,
      "load has " << r.load.size() << " entries, expected one per expert: " << experts);
  const bool same = r.tokens == tokens && r.experts == experts && r.top_k == k;
  ok &= CHECK_MESSAGE(same, "tokens, experts, top_k = " << r.tokens << ", " << r.experts << ", "
                                                        << r.top_k << ", expected " << tokens
                                                        << ", " << experts << ", " << k);
  return ok;
}

// The hand-counted case: d = 2, E = 2, the router is the identity, so a token
// prefers the larger of its two coordinates. Tokens 0..5 prefer experts 0 0 1 0 0 0.
lab::matrix hand_logits() {
  const int prefer[6] = {0, 0, 1, 0, 0, 0};
  lab::matrix x(6, 2);
  for (std::size_t t = 0; t < 6; ++t) x(t, std::size_t(prefer[t])) = 1.0f + 0.1f * float(t);
  return x;
}

// Rows with a distinct value in every element: token t, column c -> 10 (t + 1) + c.
lab::matrix tagged(std::size_t rows, std::size_t cols) {
  lab::matrix x(rows, cols);
  for (std::size_t t = 0; t < rows; ++t)
    for (std::size_t c = 0; c < cols; ++c) x(t, c) = float(10 * (t + 1) + c);
  return x;
}

std::string assignment(std::size_t t, std::size_t i, int e) {
  std::ostringstream s;
  s << "token " << t << ", rank " << i << " (expert " << e << ")";
  return s.str();
}

}  // namespace

TEST_CASE("softmax: sums to 1 and stays finite for logits of 1e4") {
  std::vector<float> x = {1e4f, 1e4f - 1.0f, 0.0f, -5.0f};
  softmax(x);
  const double e1 = std::exp(-1.0), total = 1 + e1;  // the other two are ~0
  const std::vector<double> expected = {1 / total, e1 / total, 0, 0};
  bool finite = true;
  double sum = 0;
  for (float v : x) finite &= std::isfinite(v), sum += v;
  CHECK_MESSAGE(finite,
                "softmax gave a value that is not finite (nan or inf): subtract the "
                "row's max before exp, exp(1e4) overflows in float");
  CHECK_MESSAGE(std::fabs(sum - 1) < 1e-5, "the probabilities sum to " << sum << ", expected 1");
  CHECK_CLOSE("softmax({1e4, 1e4 - 1, 0, -5})", x, expected, 1e-6);
}

TEST_CASE("expert_capacity: C = max(1, floor(cf · k · tokens / E))") {
  const struct {
    std::size_t tokens, experts, k;
    float cf;
    std::size_t expected;
    const char* why;
  } cases[] = {
      {6, 2, 1, 1.0f, 3, "1 · 1 · 6 / 2 = 3"},
      {10, 4, 2, 1.25f, 6, "1.25 · 2 · 10 / 4 = 6.25: k counts, floor"},
      {100, 8, 1, 1.25f, 15, "1.25 · 1 · 100 / 8 = 15.625: floor, not round or ceil"},
      {1, 8, 2, 1.0f, 1, "1 · 2 · 1 / 8 = 0.25, but an expert has at least one slot"},
      {64, 8, 2, 2.0f, 32, "2 · 2 · 64 / 8 = 32"},
  };
  for (const auto& c : cases) {
    const std::size_t got = expert_capacity(c.tokens, c.experts, c.k, c.cf);
    CHECK_MESSAGE(got == c.expected, "expert_capacity(tokens "
                                         << c.tokens << ", experts " << c.experts << ", k " << c.k
                                         << ", cf " << c.cf << ") = " << got << ", expected "
                                         << c.expected << ": " << std::string(c.why));
  }
}

TEST_CASE("top-k: the k largest probabilities, largest first, ties to the lower expert") {
  // token 0: a clear order; token 1: three equal; token 2: a tie for second place
  lab::matrix logits(3, 4);
  const float rows[3][4] = {{0, 3, 1, 2}, {5, 5, 0, 5}, {2, 0, 1, 1}};
  for (std::size_t t = 0; t < 3; ++t)
    for (std::size_t e = 0; e < 4; ++e) logits(t, e) = rows[t][e];
  const int expected[3][3] = {{1, 3, 2}, {0, 1, 3}, {0, 2, 3}};
  for (std::size_t k = 1; k <= 3; ++k) {
    const routing r = route(logits, k, 4.0f);  // room for everyone: nothing is dropped
    if (!sizes_ok(r, 3, 4, k)) continue;
    for (std::size_t t = 0; t < 3; ++t)
      for (std::size_t i = 0; i < k; ++i) {
        const int got = r.choice[t * k + i];
        CHECK_MESSAGE(got == expected[t][i],
                      "k = " << k << ", token " << t << ", rank " << i << ": expert " << got
                             << ", expected " << expected[t][i]
                             << std::string(t > 0 ? " (equal probabilities tie: the lower "
                                                    "expert index goes first)"
                                                  : " (largest probability first)"));
      }
  }
  // random logits against the reference
  lab::rng gen(13);
  const lab::matrix random = lab::testing::random_matrix(gen, 20, 8, 2.0f);
  const routing r = route(random, 3, 4.0f);
  if (!sizes_ok(r, 20, 8, 3)) return;
  const reference_routing ref = reference_route(random, 3, 4.0);
  for (std::size_t a = 0; a < r.choice.size(); ++a)
    CHECK_MESSAGE(r.choice[a] == ref.choice[a],
                  "random logits, token " << a / 3 << ", rank " << a % 3 << ": expert "
                                          << r.choice[a] << ", expected " << ref.choice[a]);
}

TEST_CASE("gates: renormalised over the top k when k >= 2, the probability itself when k = 1") {
  lab::rng gen(7);
  const lab::matrix logits = lab::testing::random_matrix(gen, 16, 6, 1.5f);
  for (std::size_t k : {1, 2, 3}) {
    const routing r = route(logits, k, 4.0f);
    if (!sizes_ok(r, 16, 6, k)) continue;
    const reference_routing ref = reference_route(logits, k, 4.0);
    for (std::size_t t = 0; t < 16; ++t) {
      double sum = 0;
      for (std::size_t i = 0; i < k; ++i) sum += r.gate[t * k + i];
      if (k == 1)
        CHECK_MESSAGE(std::fabs(r.gate[t] - ref.gate[t]) < 1e-5,
                      "k = 1, token "
                          << t << ": gate " << r.gate[t] << ", expected the router "
                          << "probability " << ref.gate[t]
                          << ": with k = 1 the gate is the probability itself (a single "
                             "renormalised gate would always be 1)");
      else
        CHECK_MESSAGE(std::fabs(sum - 1) < 1e-5,
                      "k = " << k << ", token " << t << ": the gates sum to " << sum
                             << ", expected 1: with k >= 2 the gates are the top-k probabilities "
                                "divided by their sum");
      for (std::size_t i = 0; i < k; ++i)
        CHECK_MESSAGE(std::fabs(r.gate[t * k + i] - ref.gate[t * k + i]) < 1e-5,
                      "k = " << k << ", token " << t << ", rank " << i << ": gate "
                             << r.gate[t * k + i] << ", expected " << ref.gate[t * k + i]);
    }
  }
}

TEST_CASE("capacity, counted by hand: every first choice before any second choice") {
  const lab::matrix logits = hand_logits();  // tokens prefer experts 0 0 1 0 0 0
  SUBCASE("k = 1, cf = 1: C = 3; tokens 4 and 5 find expert 0 full") {
    const routing r = route(logits, 1, 1.0f);
    if (!sizes_ok(r, 6, 2, 1)) return;
    CHECK_MESSAGE(r.capacity == 3, "capacity " << r.capacity << ", expected 3");
    const int slot[6] = {0, 1, 0, 2, -1, -1};
    for (std::size_t t = 0; t < 6; ++t)
      CHECK_MESSAGE(r.slot[t] == slot[t],
                    assignment(t, 0, r.choice[t])
                        << ": slot " << r.slot[t] << ", expected " << slot[t]
                        << " (tokens in order; an expert takes at most C = 3)");
    CHECK_MESSAGE((r.load[0] == 3 && r.load[1] == 1),
                  "load = {" << r.load[0] << ", " << r.load[1] << "}, expected {3, 1}: load counts "
                             << "the slots filled, dropped assignments excluded");
  }
  SUBCASE("k = 2, cf = 0.5: C = 3; second choices wait for every first choice") {
    const routing r = route(logits, 2, 0.5f);
    if (!sizes_ok(r, 6, 2, 2)) return;
    CHECK_MESSAGE(r.capacity == 3, "capacity " << r.capacity << ", expected 3");
    // firsts: expert 0 takes tokens 0 1 3 (4, 5 dropped), expert 1 token 2;
    // seconds: expert 1 takes tokens 0 and 1 (then full), every other one is dropped
    const int slot[6][2] = {{0, 1}, {1, 2}, {0, -1}, {2, -1}, {-1, -1}, {-1, -1}};
    for (std::size_t t = 0; t < 6; ++t)
      for (std::size_t i = 0; i < 2; ++i)
        CHECK_MESSAGE(r.slot[t * 2 + i] == slot[t][i],
                      assignment(t, i, r.choice[t * 2 + i])
                          << ": slot " << r.slot[t * 2 + i] << ", expected " << slot[t][i]
                          << ": all first choices are served before any second choice (rank by "
                             "rank, then token by token)");
    CHECK_MESSAGE((r.load[0] == 3 && r.load[1] == 3),
                  "load = {" << r.load[0] << ", " << r.load[1] << "}, expected {3, 3}");
    // token 2 keeps its first expert and loses its second: its kept gate is still
    // its share of the top two, p / (p0 + p1) = p (E = 2: the two sum to 1)
    const reference_routing ref = reference_route(logits, 2, 0.5);
    CHECK_MESSAGE(std::fabs(r.gate[4] - ref.gate[4]) < 1e-5,
                  "token 2, rank 0: gate " << r.gate[4] << ", expected " << ref.gate[4]
                                           << ": the gates are renormalised over the top k, "
                                              "dropped or not");
  }
}

TEST_CASE("dispatch: token rows land at expert · C + slot; empty slots stay zero") {
  const lab::matrix x = tagged(6, 3);
  SUBCASE("k = 2, cf = 0.5: every slot taken") {
    const routing r = route(hand_logits(), 2, 0.5f);
    if (!sizes_ok(r, 6, 2, 2)) return;
    const lab::matrix buffer = dispatch(x, r);
    if (!CHECK_MESSAGE((buffer.rows() == 6 && buffer.cols() == 3),
                       "dispatch returned " << buffer.rows() << " x " << buffer.cols()
                                            << ", expected 6 x 3 ([experts · capacity, d])"))
      return;
    // expert 0: tokens 0 1 3; expert 1: tokens 2 0 1
    const std::size_t token_of_row[6] = {0, 1, 3, 2, 0, 1};
    lab::matrix expected(6, 3);
    for (std::size_t row = 0; row < 6; ++row)
      for (std::size_t c = 0; c < 3; ++c) expected(row, c) = x(token_of_row[row], c);
    CHECK_CLOSE_MATRIX("buffer", buffer.values(), expected.values(), 3, 0.0);
  }
  SUBCASE("k = 1, cf = 1: expert 1 fills one of its three slots") {
    const routing r = route(hand_logits(), 1, 1.0f);
    if (!sizes_ok(r, 6, 2, 1)) return;
    const lab::matrix buffer = dispatch(x, r);
    if (!CHECK_MESSAGE((buffer.rows() == 6 && buffer.cols() == 3),
                       "dispatch returned " << buffer.rows() << " x " << buffer.cols()
                                            << ", expected 6 x 3 ([experts · capacity, d])"))
      return;
    for (std::size_t row : {4, 5})
      for (std::size_t c = 0; c < 3; ++c)
        CHECK_MESSAGE(buffer(row, c) == 0.0f, "buffer row " << row << " (expert 1, slot " << row - 3
                                                            << ") holds " << buffer(row, c)
                                                            << ": slots nobody took stay zero");
    for (std::size_t c = 0; c < 3; ++c)
      CHECK_MESSAGE(buffer(3, c) == x(2, c), "buffer row 3 (expert 1, slot 0) should be token 2's");
  }
}

TEST_CASE("combine: Σ gate · expert output; a token dropped everywhere gets 0") {
  const lab::matrix logits = hand_logits();
  const routing r = route(logits, 2, 0.5f);
  if (!sizes_ok(r, 6, 2, 2)) return;
  const lab::matrix out = tagged(6, 3);  // the experts' outputs, one row per slot
  const lab::matrix y = combine(out, r);
  if (!CHECK_MESSAGE((y.rows() == 6 && y.cols() == 3),
                     "combine returned " << y.rows() << " x " << y.cols() << ", expected 6 x 3"))
    return;
  const reference_routing ref = reference_route(logits, 2, 0.5);
  std::vector<double> expected(18, 0.0), unweighted(18, 0.0);
  for (std::size_t a = 0; a < 12; ++a) {
    if (ref.slot[a] < 0) continue;
    const std::size_t row = std::size_t(ref.choice[a]) * 3 + std::size_t(ref.slot[a]);
    for (std::size_t c = 0; c < 3; ++c) {
      expected[a / 2 * 3 + c] += ref.gate[a] * out(row, c);
      unweighted[a / 2 * 3 + c] += out(row, c);
    }
  }
  const auto values = y.values();
  if (lab::testing::compare(values, unweighted).max_abs < 1e-4)
    FAIL_CHECK("y is the plain sum of the experts' outputs: weight each by its gate");
  for (std::size_t t : {4, 5})
    for (std::size_t c = 0; c < 3; ++c)
      CHECK_MESSAGE(y(t, c) == 0.0f, "token " << t << " lost both its experts: y[" << t << "][" << c
                                              << "] = " << y(t, c)
                                              << ", expected 0 (it passes through the residual)");
  CHECK_CLOSE_MATRIX("y = Σ gate · expert output", values, expected, 3, 1e-4);
}

TEST_CASE("a whole MoE layer against a double-precision reference") {
  const std::size_t n = 32, d = 6, E = 4, k = 2;
  lab::rng gen(42);
  const lab::matrix x = lab::testing::random_matrix(gen, n, d);
  const lab::matrix w_router = lab::testing::random_matrix(gen, d, E);
  std::vector<lab::matrix> experts;  // expert e: y = x · A_e
  for (std::size_t e = 0; e < E; ++e)
    experts.push_back(lab::testing::random_matrix(gen, d, d, 0.5f));
  lab::matrix logits(n, E);
  for (std::size_t t = 0; t < n; ++t)
    for (std::size_t e = 0; e < E; ++e)
      for (std::size_t c = 0; c < d; ++c) logits(t, e) += x(t, c) * w_router(c, e);
  for (float cf : {0.75f, 1.25f, 4.0f}) {
    INFO("capacity factor " << cf);
    const routing r = route(logits, k, cf);
    if (!sizes_ok(r, n, E, k)) continue;
    const lab::matrix buffer = dispatch(x, r);
    if (!CHECK_MESSAGE(buffer.rows() == E * r.capacity,
                       "dispatch returned "
                           << buffer.rows()
                           << " rows, expected experts · capacity = " << E * r.capacity))
      continue;
    lab::matrix out(buffer.rows(), d);  // each expert on its own rows
    for (std::size_t row = 0; row < buffer.rows(); ++row)
      for (std::size_t j = 0; j < d; ++j)
        for (std::size_t c = 0; c < d; ++c)
          out(row, j) += buffer(row, c) * experts[row / r.capacity](c, j);
    const lab::matrix y = combine(out, r);
    const reference_routing ref = reference_route(logits, k, double(cf));
    std::vector<double> expected(n * d, 0.0);
    std::size_t dropped = 0;
    for (std::size_t a = 0; a < n * k; ++a) {
      if (ref.slot[a] < 0) {
        ++dropped;
        continue;
      }
      for (std::size_t j = 0; j < d; ++j) {
        double o = 0;
        for (std::size_t c = 0; c < d; ++c)
          o += double(x(a / k, c)) * experts[std::size_t(ref.choice[a])](c, j);
        expected[a / k * d + j] += ref.gate[a] * o;
      }
    }
    INFO(dropped << " of " << n * k << " assignments dropped");
    CHECK_CLOSE_MATRIX("y", y.values(), expected, d, 1e-4);
  }
}
