#include "attention/flash_trace.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "attention/attention.hpp"
#include "base/error.hpp"
#include "reference.hpp"

using namespace memlab;
using memlab::testing::attention_dims;
using memlab::testing::reference_attention;

namespace {

tensor<2> matrix(std::size_t rows, std::size_t cols, std::vector<float> values) {
  auto t = tensor<2>::from_shape({rows, cols});
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

tensor<3> one_head(const std::vector<float>& values, std::size_t seq, std::size_t d) {
  auto t = tensor<3>::from_shape({1, seq, d});
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

double max_abs(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double m = 0;
  for (std::size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(double(a[i]) - b[i]));
  return m;
}

}  // namespace

// head_dim 1 (scale 1), two query rows in one Q tile, two keys in K/V tiles of one:
//   q = [1, −1], k = [0, 2], v = [1, 3]  →  S = [[0, 2], [0, −2]]
// Tile 0 (key 0): both rows score 0, so m = 0, α = exp(−∞ − 0) = 0, P = 1, l = 1, O = v0 = 1.
// Tile 1 (key 1): row 0 scores 2 > m: m = 2, α = e⁻², l = e⁻² + 1, O = e⁻²·1 + 3;
//                 row 1 scores −2 < m: m = 0, α = 1, l = 1 + e⁻², O = 1 + 3e⁻².
TEST_CASE("flash_trace: m, l, the rescale factor and O worked by hand on two K/V tiles") {
  const auto q = matrix(2, 1, {1, -1}), k = matrix(2, 1, {0, 2}), v = matrix(2, 1, {1, 3});
  const auto trace = attention::flash_trace(q, k, v, 2, 1, false);
  REQUIRE(trace.steps.size() == 2);
  const double e2 = std::exp(-2.0), inf = std::numeric_limits<double>::infinity();

  const auto& t0 = trace.steps[0];
  CHECK(t0.kv_begin == 0);
  CHECK(t0.cols == 1);
  CHECK_FALSE(t0.last);
  CHECK(t0.m_old[0] == -inf);
  CHECK(t0.m_new[0] == 0.0f);
  CHECK(t0.m_new[1] == 0.0f);
  CHECK(t0.rescale[0] == 0.0f);
  CHECK(t0.l_new[0] == 1.0f);
  CHECK(t0.acc[0] == 1.0f);
  CHECK(t0.acc[1] == 1.0f);

  const auto& t1 = trace.steps[1];
  CHECK(t1.last);
  CHECK(t1.scores[0] == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(t1.scores[1] == doctest::Approx(-2.0).epsilon(1e-6));
  CHECK(t1.m_old[0] == 0.0f);
  CHECK(t1.m_new[0] == doctest::Approx(2.0).epsilon(1e-6));
  CHECK(t1.m_new[1] == 0.0f);
  CHECK(t1.rescale[0] == doctest::Approx(e2).epsilon(1e-6));
  CHECK(t1.rescale[1] == 1.0f);
  CHECK(t1.probs[0] == doctest::Approx(1.0).epsilon(1e-6));
  CHECK(t1.probs[1] == doctest::Approx(e2).epsilon(1e-6));
  CHECK(t1.l_new[0] == doctest::Approx(1 + e2).epsilon(1e-6));
  CHECK(t1.l_new[1] == doctest::Approx(1 + e2).epsilon(1e-6));
  CHECK(t1.acc[0] == doctest::Approx(e2 + 3).epsilon(1e-6));
  CHECK(t1.acc[1] == doctest::Approx(1 + 3 * e2).epsilon(1e-6));
  CHECK(trace.out[0] == doctest::Approx((e2 + 3) / (1 + e2)).epsilon(1e-6));
  CHECK(trace.out[1] == doctest::Approx((1 + 3 * e2) / (1 + e2)).epsilon(1e-6));

  // Causal: row 0 does not see key 1, so tile 1 leaves it as it was.
  const auto causal = attention::flash_trace(q, k, v, 2, 1, true);
  REQUIRE(causal.steps.size() == 2);
  const auto& c1 = causal.steps[1];
  CHECK(c1.scores[0] == -inf);
  CHECK(c1.probs[0] == 0.0f);
  CHECK(c1.rescale[0] == 1.0f);
  CHECK(c1.l_new[0] == 1.0f);
  CHECK(causal.out[0] == 1.0f);
  CHECK(causal.out[1] == doctest::Approx((1 + 3 * e2) / (1 + e2)).epsilon(1e-6));
  // With one-row Q tiles, row 0's tile stops after key 0's tile.
  CHECK(attention::flash_trace(q, k, v, 1, 1, true).steps.size() == 3);
}

TEST_CASE("flash_trace: the output equals naive and flash attention, every state the keys so far") {
  const experiments::flash_trace_config configs[] = {
      {12, 4, 4, 4, false, 1},                             // the page's example
      {12, 4, 4, 4, true, 1},    {13, 5, 5, 3, false, 7},  // tiles that do not divide seq
      {13, 5, 3, 5, true, 7},    {1, 3, 1, 1, true, 2},    // one row
      {64, 16, 64, 1, false, 3}, {40, 8, 16, 16, true, 4},
  };
  for (const auto& c : configs) {
    CAPTURE(c.seq);
    CAPTURE(c.block_q);
    CAPTURE(c.block_kv);
    CAPTURE(c.causal);
    const auto f = experiments::run_flash_trace(c);
    const std::size_t n = c.seq, d = c.head_dim;

    // Against core's naive kernel (the figures carry it) and the fast flash kernel.
    CHECK(f.max_abs_diff <= 1e-6);
    CHECK(max_abs(f.out, f.naive_out) <= 1e-6);
    attention::flash_options options;
    options.causal = c.causal, options.block_q = c.block_q, options.block_kv = c.block_kv;
    const auto fast =
        attention::flash(one_head(f.q, n, d), one_head(f.k, n, d), one_head(f.v, n, d), options);
    CHECK(max_abs(f.out, std::vector<float>(fast.begin(), fast.end())) <= 1e-6);
    CHECK(f.steps.size() == attention::flash_tiles_visited({1, 1, n, n, d}, options));

    // Every step's state is the softmax over the keys seen so far, computed here
    // in double from q and k: l · e^m = Σ e^s and O / l = attention over those keys.
    const std::vector<double> q(f.q.begin(), f.q.end()), k(f.k.begin(), f.k.end()),
        v(f.v.begin(), f.v.end());
    const double scale = 1 / std::sqrt(double(d));
    for (const auto& st : f.steps) {
      for (std::size_t r = 0; r < st.rows; ++r) {
        const std::size_t i = st.q_begin + r;
        const std::size_t seen = std::min(st.kv_begin + st.cols, c.causal ? i + 1 : n);
        double max = -INFINITY, sum = 0;
        std::vector<double> s(seen), o(d, 0.0);
        for (std::size_t j = 0; j < seen; ++j) {
          s[j] = 0;
          for (std::size_t e = 0; e < d; ++e) s[j] += q[i * d + e] * k[j * d + e];
          s[j] *= scale;
          max = std::max(max, s[j]);
        }
        for (std::size_t j = 0; j < seen; ++j) {
          sum += std::exp(s[j] - max);
          for (std::size_t e = 0; e < d; ++e) o[e] += std::exp(s[j] - max) * v[j * d + e];
        }
        CHECK(st.m_new[r] == doctest::Approx(max).epsilon(1e-5));
        CHECK(st.l_new[r] == doctest::Approx(sum).epsilon(1e-5));
        CHECK(st.rescale[r] ==
              doctest::Approx(std::exp(double(st.m_old[r]) - st.m_new[r])).epsilon(1e-6));
        for (std::size_t e = 0; e < d; ++e)
          CHECK(st.out[r * d + e] == doctest::Approx(o[e] / sum).epsilon(1e-5));
      }
      if (st.last)  // the final rows are the naive softmax's probabilities and output
        for (std::size_t r = 0; r < st.rows; ++r)
          for (std::size_t col = 0; col < st.cols; ++col) {
            const double p = st.probs[r * st.cols + col] / st.l_new[r];
            CHECK(p == doctest::Approx(f.naive_probs[(st.q_begin + r) * n + st.kv_begin + col])
                           .epsilon(1e-6));
          }
    }
    const auto ref = reference_attention(q, k, v, attention_dims{1, 1, n, n, d}, c.causal);
    CHECK(max_abs(f.out, std::vector<float>(ref.begin(), ref.end())) <= 1e-5);
  }
}

TEST_CASE("run_flash_trace: sizes out of bounds are named") {
  const auto fails = [](experiments::flash_trace_config c, const char* message) {
    CHECK_THROWS_WITH_AS(experiments::run_flash_trace(c), message, memlab::invalid_argument);
  };
  fails({65, 4, 4, 4, false, 1},
        "seq = 65: expected at most 64 (every state of the step-through is kept)");
  fails({0, 4, 4, 4, false, 1}, "seq = 0: expected a positive integer");
  fails({12, 17, 4, 4, false, 1},
        "head_dim = 17: expected at most 16 (every state of the step-through is kept)");
  fails({12, 4, 13, 4, false, 1}, "block_q = 13: expected at most seq = 12");
  fails({12, 4, 4, -1, false, 1}, "block_kv = -1: expected a positive integer");
  CHECK_THROWS_WITH_AS(attention::flash_trace(matrix(2, 1, {1, 2}), matrix(2, 2, {1, 2, 3, 4}),
                                              matrix(2, 2, {1, 2, 3, 4}), 1, 1, false),
                       "k.shape = [2, 2]: expected head_dim 1 as in q.shape = [2, 1]",
                       memlab::invalid_argument);
}
