// Exercise 10 — FlashAttention backward: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

using lab::testing::random_matrix;
using lab::testing::reference_attention;

namespace {

// The double-precision reference, straight from the definitions with P
// materialised: L_i = log Σ_j exp(s_ij), P_ij = exp(s_ij − L_i), D_i = Σ_j P_ij dP_ij
// over every key row i sees (j <= i when causal), and the gradients' share of the
// pairs (i, j) with i in [i0, i0 + rows), j in [j0, j0 + cols).
struct reference {
  std::vector<double> lse, delta, dq, dk, dv;
};

reference reference_backward(const lab::matrix& q, const lab::matrix& k, const lab::matrix& v,
                             const lab::matrix& dout, bool causal, std::size_t i0 = 0,
                             std::size_t rows = ~std::size_t{0}, std::size_t j0 = 0,
                             std::size_t cols = ~std::size_t{0}) {
  const std::size_t n_q = q.rows(), n_kv = k.rows(), d = q.cols();
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  reference r{std::vector<double>(n_q), std::vector<double>(n_q), std::vector<double>(n_q * d, 0.0),
              std::vector<double>(n_kv * d, 0.0), std::vector<double>(n_kv * d, 0.0)};
  std::vector<double> p(n_kv), dp(n_kv);
  for (std::size_t i = 0; i < n_q; ++i) {
    const std::size_t seen = causal ? i + 1 : n_kv;
    double max = -std::numeric_limits<double>::infinity();
    for (std::size_t j = 0; j < seen; ++j) {
      double s = 0, dot = 0;
      for (std::size_t c = 0; c < d; ++c) {
        s += static_cast<double>(q(i, c)) * k(j, c);
        dot += static_cast<double>(dout(i, c)) * v(j, c);
      }
      p[j] = s * scale;
      dp[j] = dot;
      max = std::max(max, p[j]);
    }
    double sum = 0;
    for (std::size_t j = 0; j < seen; ++j) sum += std::exp(p[j] - max);
    r.lse[i] = max + std::log(sum);
    for (std::size_t j = 0; j < seen; ++j) p[j] = std::exp(p[j] - r.lse[i]);
    for (std::size_t j = 0; j < seen; ++j) r.delta[i] += p[j] * dp[j];
    if (i < i0 || i - i0 >= rows) continue;
    for (std::size_t j = j0; j < seen && j - j0 < cols; ++j) {
      const double ds = p[j] * (dp[j] - r.delta[i]);
      for (std::size_t c = 0; c < d; ++c) {
        r.dv[j * d + c] += p[j] * dout(i, c);
        r.dq[i * d + c] += scale * ds * k(j, c);
        r.dk[j * d + c] += scale * ds * q(i, c);
      }
    }
  }
  return r;
}

std::vector<float> to_float(const std::vector<double>& x) { return {x.begin(), x.end()}; }

double largest(const std::vector<double>& x) {
  double m = 0;
  for (double v : x) m = std::max(m, std::fabs(v));
  return m;
}

// Gradients relative to their largest value: 1e-4 of it.
double tolerance(const std::vector<double>& expected) {
  return 1e-4 * std::max(largest(expected), 1e-3);
}

std::vector<double> plus(const std::vector<double>& x, double c) {
  std::vector<double> y = x;
  for (double& v : y) v += c;
  return y;
}

struct shape {
  std::size_t seq_q, seq_kv, d, block;
  bool causal;
};

std::string describe(const shape& c) {
  return "seq_q " + std::to_string(c.seq_q) + ", seq_kv " + std::to_string(c.seq_kv) + ", d " +
         std::to_string(c.d) + ", block " + std::to_string(c.block) + (c.causal ? ", causal" : "");
}

}  // namespace

TEST_CASE("row_delta: delta[i] = dout[i] · out[i]") {
  // By hand: (1, 2, 3) · (4, −5, 6) = 4 − 10 + 18 = 12; (0.5, 0, −2) · (2, 7, 0.25) = 1 − 0.5 =
  // 0.5.
  lab::matrix out(2, 3), dout(2, 3);
  const float o[] = {4, -5, 6, 2, 7, 0.25f}, g[] = {1, 2, 3, 0.5f, 0, -2};
  std::copy(o, o + 6, out.data());
  std::copy(g, g + 6, dout.data());
  std::vector<float> delta(2, std::numeric_limits<float>::quiet_NaN());
  row_delta(out, dout, delta);
  CHECK_CLOSE("delta", delta, std::vector<double>({12, 0.5}), 1e-6);

  lab::rng gen(3);
  const lab::matrix o2 = random_matrix(gen, 37, 19), g2 = random_matrix(gen, 37, 19);
  std::vector<double> expected(37, 0.0);
  for (std::size_t i = 0; i < 37; ++i)
    for (std::size_t c = 0; c < 19; ++c) expected[i] += double(o2(i, c)) * g2(i, c);
  std::vector<float> delta2(37, std::numeric_limits<float>::quiet_NaN());
  row_delta(o2, g2, delta2);
  CHECK_CLOSE("delta", delta2, expected, 1e-5);
}

TEST_CASE("one tile adds its share to dq, dk, dv, touches nothing else and allocates nothing") {
  // seq 12, d 8: the tile of query rows 4..7 against keys 8..11. dq, dk, dv start at
  // 0.25 everywhere (other tiles' shares): the tile must add to them, and only to
  // rows 4..7 of dq and rows 8..11 of dk and dv.
  const std::size_t n = 12, d = 8;
  lab::rng gen(21);
  const lab::matrix q = random_matrix(gen, n, d), k = random_matrix(gen, n, d),
                    v = random_matrix(gen, n, d), dout = random_matrix(gen, n, d);
  const reference r = reference_backward(q, k, v, dout, false, 4, 4, 8, 4);
  const std::vector<float> lse = to_float(r.lse), delta = to_float(r.delta);
  lab::matrix dq(n, d, 0.25f), dk(n, d, 0.25f), dv(n, d, 0.25f);
  std::vector<float> p(16), ds(16);
  std::size_t allocations = 0;
  {
    lab::heap_scope scope;
    tile_backward({q, k, v, dout, lse, delta}, {4, 4, 8, 4}, false, p, ds, dq, dk, dv);
    allocations = scope.allocations();
  }
  INFO("tile: query rows 4..7, keys 8..11 of 12; gradients started at 0.25");
  CHECK_CLOSE_MATRIX("dv", dv.values(), plus(r.dv, 0.25), d, tolerance(r.dv));
  CHECK_CLOSE_MATRIX("dq", dq.values(), plus(r.dq, 0.25), d, tolerance(r.dq));
  CHECK_CLOSE_MATRIX("dk", dk.values(), plus(r.dk, 0.25), d, tolerance(r.dk));
  CHECK_MESSAGE(allocations == 0, "tile_backward allocated " << allocations
                                                             << " times: it runs once per tile, "
                                                                "use the scratch p and ds");
}

TEST_CASE("a tile on the causal diagonal: keys after the query contribute nothing") {
  // seq 12, d 8, causal: the tile of rows 4..7 against keys 4..7, where row 4 sees
  // key 4 only and row 7 keys 4..7.
  const std::size_t n = 12, d = 8;
  lab::rng gen(8);
  const lab::matrix q = random_matrix(gen, n, d), k = random_matrix(gen, n, d),
                    v = random_matrix(gen, n, d), dout = random_matrix(gen, n, d);
  const reference r = reference_backward(q, k, v, dout, true, 4, 4, 4, 4);
  const std::vector<float> lse = to_float(r.lse), delta = to_float(r.delta);
  lab::matrix dq(n, d), dk(n, d), dv(n, d);
  std::vector<float> p(16), ds(16);
  tile_backward({q, k, v, dout, lse, delta}, {4, 4, 4, 4}, true, p, ds, dq, dk, dv);
  INFO("diagonal tile rows 4..7, keys 4..7, causal: query i sees keys j <= i");
  CHECK_CLOSE_MATRIX("dv", dv.values(), r.dv, d, tolerance(r.dv));
  CHECK_CLOSE_MATRIX("dq", dq.values(), r.dq, d, tolerance(r.dq));
  CHECK_CLOSE_MATRIX("dk", dk.values(), r.dk, d, tolerance(r.dk));
}

TEST_CASE("the whole backward matches a double-precision backward that keeps P") {
  const shape cases[] = {
      {32, 32, 16, 8, false},  // tiles that divide seq
      {30, 30, 8, 8, false},   // a partial last tile: 8 + 8 + 8 + 6
      {30, 30, 8, 8, true},    // causal, partial diagonal tile
      {21, 13, 6, 4, false},   // seq_q != seq_kv
      {13, 13, 5, 1, true},    // 1 × 1 tiles
      {10, 10, 12, 64, true},  // one tile bigger than seq
  };
  lab::rng gen(5);
  for (const shape& c : cases) {
    const lab::matrix q = random_matrix(gen, c.seq_q, c.d), k = random_matrix(gen, c.seq_kv, c.d),
                      v = random_matrix(gen, c.seq_kv, c.d),
                      dout = random_matrix(gen, c.seq_q, c.d);
    const reference r = reference_backward(q, k, v, dout, c.causal);
    const std::vector<double> o = reference_attention(q, k, v, c.causal);
    lab::matrix out(c.seq_q, c.d);
    std::copy(o.begin(), o.end(), out.data());
    const std::vector<float> lse = to_float(r.lse);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    lab::matrix dq(c.seq_q, c.d, nan), dk(c.seq_kv, c.d, nan), dv(c.seq_kv, c.d, nan);
    flash_backward(q, k, v, out, lse, dout, c.block, c.causal, dq, dk, dv);
    INFO(describe(c));
    CHECK_CLOSE_MATRIX("dv", dv.values(), r.dv, c.d, tolerance(r.dv));
    CHECK_CLOSE_MATRIX("dq", dq.values(), r.dq, c.d, tolerance(r.dq));
    CHECK_CLOSE_MATRIX("dk", dk.values(), r.dk, c.d, tolerance(r.dk));
  }
}

TEST_CASE("logits of magnitude 1000: finite gradients, dv of a one-hot softmax by hand") {
  // d = 4 (scale 1/2): q_i = (40 a_i, 0, 0, 0), k_j = (50 b_j, 0, 0, 0) give logits
  // 1000 a_i b_j, at least 1000 apart within a row: softmax is one-hot (the next
  // weight is below e^-1000), and L_i is the row's largest logit. Then every row's
  // gradient flows to one key: dv[j] = Σ of dout[i] over the rows whose largest
  // logit is key j's, and ds = p (dp − D) = 0, so dq = dk = 0. exp of a logit on
  // its own (e^6000) is inf in float.
  const float a[] = {1, 2, -1, 2};
  const float b[] = {1, -2, 2, 0, -1, 3};  // a > 0: key 5 wins; a < 0: key 1
  lab::matrix q(4, 4), k(6, 4), v(6, 4), dout(4, 4);
  for (std::size_t i = 0; i < 4; ++i) {
    q(i, 0) = 40 * a[i];
    for (std::size_t c = 0; c < 4; ++c) dout(i, c) = static_cast<float>(i + 1) * (c % 2 ? -1 : 1);
  }
  for (std::size_t j = 0; j < 6; ++j) {
    k(j, 0) = 50 * b[j];
    for (std::size_t c = 0; c < 4; ++c) v(j, c) = static_cast<float>(j) - static_cast<float>(c);
  }
  const std::vector<float> lse = {3000, 6000, 2000, 6000};  // 1000 · a_i · max_j (a_i b_j)
  lab::matrix out(4, 4);                                    // one-hot: out[i] = v[winner]
  const std::size_t winner[] = {5, 5, 1, 5};
  for (std::size_t i = 0; i < 4; ++i)
    for (std::size_t c = 0; c < 4; ++c) out(i, c) = v(winner[i], c);
  // dv[5] = dout[0] + dout[1] + dout[3] = (7, −7, 7, −7); dv[1] = dout[2] = (3, −3, 3, −3).
  std::vector<double> dv_expected(24, 0.0);
  for (std::size_t c = 0; c < 4; ++c) {
    dv_expected[5 * 4 + c] = c % 2 ? -7 : 7;
    dv_expected[1 * 4 + c] = c % 2 ? -3 : 3;
  }
  for (std::size_t block : {1, 2, 4, 64}) {
    INFO("block " << block << ", logits up to 6000: use exp(s − L), never exp(s)");
    const float nan = std::numeric_limits<float>::quiet_NaN();
    lab::matrix dq(4, 4, nan), dk(6, 4, nan), dv(6, 4, nan);
    flash_backward(q, k, v, out, lse, dout, block, false, dq, dk, dv);
    CHECK_CLOSE_MATRIX("dv", dv.values(), dv_expected, 4, 1e-4);
    CHECK_CLOSE_MATRIX("dq", dq.values(), std::vector<double>(16, 0.0), 4, 1e-4);
    CHECK_CLOSE_MATRIX("dk", dk.values(), std::vector<double>(24, 0.0), 4, 1e-4);
  }
}

// The page's chart once the tests pass: your backward (one head, d 64, tiles of 64) by
// sequence length, from the forward's out and logsumexp.
MEMLAB_BENCHMARK("flash_backward", "seq", 64, 128, 256, 512) {
  lab::rng gen(4);
  const lab::matrix q = random_matrix(gen, n, 64), k = random_matrix(gen, n, 64),
                    v = random_matrix(gen, n, 64), dout = random_matrix(gen, n, 64);
  const std::vector<double> o = reference_attention(q, k, v, false);
  lab::matrix out(n, 64);
  std::copy(o.begin(), o.end(), out.data());
  const std::vector<float> lse = to_float(reference_backward(q, k, v, dout, false, 0, 0).lse);
  lab::matrix dq(n, 64), dk(n, 64), dv(n, 64);
  lab::bench::report(n, lab::bench::measure([&] {
                       flash_backward(q, k, v, out, lse, dout, 64, false, dq, dk, dv);
                     }));
}
