// Exercise 3 — causal attention: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "exercise.cpp"
#include "memlab_test.hpp"

using lab::testing::reference_attention;

namespace {

// causal_flash_attention into an output first filled with NaN: the output, the
// count it returns, and the tiles tile_scores computed.
struct result {
  lab::matrix out;
  std::size_t returned, computed;
};

result run(const lab::matrix& q, const lab::matrix& k, const lab::matrix& v, std::size_t block) {
  result r{lab::matrix(q.rows(), q.cols(), std::numeric_limits<float>::quiet_NaN()), 0, 0};
  tiles_computed = 0;
  r.returned = causal_flash_attention(q, k, v, r.out, block);
  r.computed = tiles_computed;
  return r;
}

// What a NaN or inf in the output most likely comes from.
const char* const nonfinite_cause =
    "a row whose every key was masked (mask j > i, not j >= i; the diagonal tile skipped?), or "
    "exp overflowed (row max not subtracted, or the mask applied after the max?)";

struct inputs {
  lab::matrix q, k, v;
};

inputs random_inputs(std::size_t seq, std::size_t d, std::uint64_t seed) {
  lab::rng gen(seed);
  return {lab::testing::random_matrix(gen, seq, d), lab::testing::random_matrix(gen, seq, d),
          lab::testing::random_matrix(gen, seq, d)};
}

}  // namespace

TEST_CASE("causal_flash_attention matches a double-precision causal reference, and logits of 1e4") {
  const struct {
    std::size_t seq, d, block;
  } cases[] = {{64, 16, 16}, {100, 32, 32}, {77, 24, 16}, {19, 5, 1},
               {33, 33, 64}, {1, 8, 4},     {50, 8, 7}};
  for (const auto& c : cases) {
    const inputs in = random_inputs(c.seq, c.d, 100 + c.seq);
    INFO("seq " << c.seq << ", d " << c.d << ", block " << c.block);
    const result r = run(in.q, in.k, in.v, c.block);
    CHECK_FINITE("out", r.out.values(), c.d, nonfinite_cause);
    CHECK_CLOSE_MATRIX("out", r.out.values(), reference_attention(in.q, in.k, in.v, true), c.d,
                       1e-5);
  }
  // Logits 1e4 apart (d 4, scale 1/2): q_i = (200, 0, 0, 0), k_j = (50 b_j, 0, 0, 0)
  // give logit 5000 b_j, so query i picks the one key of largest b_j among j <= i:
  // out[i] = v[that key], exactly (the next weight is below e^-5000). The largest
  // b_j of a tile often lies in row i's future: it must not raise row i's max.
  const float b[] = {0, 2, -1, 1, 3, -2, 4, 0, 5, 1};
  const std::size_t picked[] = {0, 1, 1, 1, 4, 4, 6, 6, 8, 8};  // argmax of b_0..b_i
  lab::matrix q(10, 4), k(10, 4), v(10, 4);
  std::vector<float> expected;
  for (std::size_t i = 0; i < 10; ++i) {
    q(i, 0) = 200;
    k(i, 0) = 50 * b[i];
    for (std::size_t c = 0; c < 4; ++c) v(i, c) = static_cast<float>(10 * i + c);
  }
  for (std::size_t i = 0; i < 10; ++i)
    for (std::size_t c = 0; c < 4; ++c) expected.push_back(v(picked[i], c));
  for (std::size_t block : {1, 3, 4, 16}) {
    INFO("seq 10, d 4, block " << block
                               << ", logits 5000 · {0, 2, -1, 1, 3, -2, 4, 0, 5, 1}: "
                                  "row i is v[the key of largest logit among 0..i]");
    const result r = run(q, k, v, block);
    CHECK_FINITE("out", r.out.values(), 4, nonfinite_cause);
    CHECK_CLOSE_MATRIX("out", r.out.values(), expected, 4, 1e-4);
  }
}

TEST_CASE("tiles above the diagonal are skipped: the count of tiles computed") {
  // T = ceil(seq / block) tiles per side; Q tile t needs K/V tiles 0..t:
  // 1 + 2 + ... + T = T (T + 1) / 2 of the T² pairs. tile_scores counts the
  // tiles actually computed; the count returned must say the same.
  const struct {
    std::size_t seq, block, expected;
  } cases[] = {
      {8, 2, 10},    // T = 4: 1 + 2 + 3 + 4 of 16
      {10, 4, 6},    // T = 3 with a partial last tile: 1 + 2 + 3 of 9
      {64, 16, 10},  // T = 4
      {5, 8, 1},     // one tile holds everything
      {12, 1, 78},   // 1 × 1 tiles: the lower triangle, 12 · 13 / 2
  };
  for (const auto& c : cases) {
    const inputs in = random_inputs(c.seq, 8, 200 + c.seq);
    const result r = run(in.q, in.k, in.v, c.block);
    const std::size_t tiles = (c.seq + c.block - 1) / c.block;
    INFO("seq " << c.seq << ", block " << c.block << ": " << tiles << " × " << tiles
                << " tile pairs");
    CHECK_MESSAGE(r.computed == c.expected, "tile_scores computed "
                                                << r.computed << " tiles, expected " << c.expected
                                                << " (those on or below the diagonal)");
    CHECK_MESSAGE(r.returned == r.computed, "causal_flash_attention returned "
                                                << r.returned << ", but tile_scores computed "
                                                << r.computed << " tiles");
    CHECK_CLOSE_MATRIX("out", r.out.values(), reference_attention(in.q, in.k, in.v, true), 8, 1e-5);
  }
}

TEST_CASE("query 0 sees only key 0; the last query sees every key") {
  // softmax over a single logit is 1: out[0] = v[0] exactly. The last row is
  // the unmasked attention of the last query.
  const std::size_t seq = 37, d = 12, block = 8;
  const inputs in = random_inputs(seq, d, 300);
  const result r = run(in.q, in.k, in.v, block);
  {
    INFO("query 0 sees key 0 alone: out[0] = v[0]");
    CHECK_FINITE("out[0]", r.out.row(0), 0, nonfinite_cause);
    CHECK_CLOSE("out[0]", r.out.row(0), in.v.row(0), 1e-6);
  }
  const std::vector<double> full = reference_attention(in.q, in.k, in.v, false);
  const std::vector<double> last(full.end() - d, full.end());
  INFO("query 36 sees every key: out[36] = its unmasked attention");
  CHECK_CLOSE("out[36]", r.out.row(seq - 1), last, 1e-5);
}

TEST_CASE("the future cannot leak: changing later keys and values leaves earlier rows unchanged") {
  // Rows 0..20 may only read keys 0..20. Perturb keys and values 21.. (inside
  // the tile that straddles row 20, and in later tiles): rows 0..20 must not
  // change by a single bit. A mask applied after the row max changes them.
  const std::size_t seq = 40, d = 8, block = 16, last = 20;
  inputs in = random_inputs(seq, d, 400);
  const std::vector<double> expected = reference_attention(in.q, in.k, in.v, true);
  const result before = run(in.q, in.k, in.v, block);
  CHECK_CLOSE_MATRIX("out", before.out.values(), expected, d, 1e-5);
  for (std::size_t j = last + 1; j < seq; ++j)
    for (std::size_t c = 0; c < d; ++c) {
      in.k(j, c) = 50.0f;  // would dominate every row's max if it leaked
      in.v(j, c) = 1e6f;
    }
  const result after = run(in.q, in.k, in.v, block);
  const lab::span<const float> rows_before(before.out.data(), (last + 1) * d);
  const lab::span<const float> rows_after(after.out.data(), (last + 1) * d);
  INFO("after changing keys and values 21..39, rows 0..20 must not change (seq 40, block 16)");
  CHECK_FINITE("out", rows_after, d, nonfinite_cause);
  CHECK_CLOSE_MATRIX("out", rows_after, rows_before, d, 0.0);
}

// The page's chart once the tests pass: your causal_flash_attention against the
// core's (one head, d 64, tiles of 64) by sequence length.
MEMLAB_BENCHMARK("causal_flash_attention", "seq", 128, 256, 512, 1024, 2048) {
  const inputs in = random_inputs(n, 64, 5);
  lab::matrix out(n, 64);
  lab::bench::report(
      n, lab::bench::measure([&] { causal_flash_attention(in.q, in.k, in.v, out, 64); }));
}
