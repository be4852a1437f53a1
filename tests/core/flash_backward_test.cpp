#include "attention/flash_backward.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <string>

#include "base/error.hpp"
#include "base/parallel.hpp"
#include "base/random.hpp"
#include "reference.hpp"

using namespace memlab;
using memlab::testing::describe;
using memlab::testing::finite_difference_gradients;
using memlab::testing::max_relative_diff;
using memlab::testing::to_double;

namespace {

using backward_case = testing::attention_case;

struct inputs {
  tensor<3> q, k, v, dout;
};

inputs random_inputs(const backward_case& c, rng& gen) {
  return {random_normal<3>({c.heads, c.seq_q, c.head_dim}, gen),
          random_normal<3>({c.kv_heads, c.seq_kv, c.head_dim}, gen),
          random_normal<3>({c.kv_heads, c.seq_kv, c.head_dim}, gen),
          random_normal<3>({c.heads, c.seq_q, c.head_dim}, gen)};
}

// Forward then backward, the forward's output alive throughout as in training.
attention::gradients run_naive(const inputs& x, bool causal) {
  tensor<3> probs;
  const tensor<3> out = attention::naive(x.q, x.k, x.v, causal, &probs);
  return attention::naive_backward(x.q, x.k, x.v, probs, x.dout);
}

attention::gradients run_flash(const inputs& x, const backward_case& c) {
  tensor<2> lse;
  attention::flash_options options{c.causal, c.block_q, c.block_kv};
  options.logsumexp = &lse;
  const tensor<3> out = attention::flash(x.q, x.k, x.v, options);
  return attention::flash_backward(x.q, x.k, x.v, out, lse, x.dout, options);
}

}  // namespace

TEST_CASE("flash and naive backward equal central finite differences in double precision") {
  // Small shapes: every input value is perturbed both ways (2 · (heads + 2 · kv_heads)
  // · seq · head_dim double-precision forward passes per case).
  const backward_case cases[] = {
      {2, 2, 12, 12, 8, 4, 4, false},  // MHA, seq a multiple of the tile
      {2, 2, 13, 13, 8, 4, 4, true},   // seq not a multiple of the tile, causal
      {4, 2, 11, 11, 6, 4, 3, true},   // GQA, rectangular tiles
      {4, 1, 10, 10, 5, 3, 4, false},  // MQA, odd head_dim
      {2, 1, 5, 9, 4, 2, 4, true},     // fewer queries than keys, end-aligned mask
      {2, 2, 7, 7, 4, 1, 1, true},     // 1x1 tiles
      {3, 3, 6, 6, 4, 64, 64, false},  // one tile bigger than seq
  };
  rng gen(17);
  for (const auto& c : cases) {
    CAPTURE(describe(c));
    const inputs x = random_inputs(c, gen);
    const auto expected = finite_difference_gradients(x.q, x.k, x.v, x.dout, c.causal);
    const auto naive = run_naive(x, c.causal);
    const auto flash = run_flash(x, c);
    CHECK(max_relative_diff(naive.dq, expected.dq) <= 1e-4);
    CHECK(max_relative_diff(naive.dk, expected.dk) <= 1e-4);
    CHECK(max_relative_diff(naive.dv, expected.dv) <= 1e-4);
    CHECK(max_relative_diff(flash.dq, expected.dq) <= 1e-4);
    CHECK(max_relative_diff(flash.dk, expected.dk) <= 1e-4);
    CHECK(max_relative_diff(flash.dv, expected.dv) <= 1e-4);
  }
}

TEST_CASE("flash backward equals the naive backward: tiles that do not divide seq, causal, GQA") {
  const backward_case cases[] = {
      {4, 4, 100, 100, 32, 32, 32, false}, {4, 4, 100, 100, 32, 32, 32, true},
      {4, 2, 77, 77, 24, 16, 8, true},     {4, 1, 77, 77, 24, 8, 16, false},
      {6, 3, 50, 50, 7, 16, 16, true},     {2, 2, 9, 40, 16, 4, 16, true},
      {2, 1, 40, 60, 16, 16, 16, false},   {1, 1, 130, 130, 64, 64, 64, true},
      {2, 2, 1, 1, 8, 64, 64, false},
  };
  rng gen(5);
  for (const auto& c : cases) {
    CAPTURE(describe(c));
    const inputs x = random_inputs(c, gen);
    const auto naive = run_naive(x, c.causal);
    const auto flash = run_flash(x, c);
    REQUIRE(flash.dq.shape() == x.q.shape());
    REQUIRE(flash.dk.shape() == x.k.shape());
    REQUIRE(flash.dv.shape() == x.v.shape());
    CHECK(max_relative_diff(flash.dq, to_double(naive.dq)) <= 1e-4);
    CHECK(max_relative_diff(flash.dk, to_double(naive.dk)) <= 1e-4);
    CHECK(max_relative_diff(flash.dv, to_double(naive.dv)) <= 1e-4);
  }
}

TEST_CASE("flash backward on 2 threads gives the bits of 1 thread, I/O bytes the same") {
  // A task per KV head owns its dK, dV and its group's dQ, whichever worker runs it.
  const backward_case cases[] = {
      {4, 4, 100, 100, 32, 32, 32, true},
      {4, 2, 77, 77, 24, 16, 8, true},
      {6, 3, 50, 50, 7, 16, 16, false},
      {2, 1, 40, 60, 16, 16, 16, false},
  };
  rng gen(6);
  auto same_bits = [](const tensor<3>& a, const tensor<3>& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  };
  for (const auto& c : cases) {
    CAPTURE(describe(c));
    const inputs x = random_inputs(c, gen);
    auto step = [&](attention::io_bytes* io) {
      attention::flash_options options{c.causal, c.block_q, c.block_kv};
      tensor<2> lse;
      options.logsumexp = &lse;
      options.io = io;
      const auto out = attention::flash(x.q, x.k, x.v, options);
      return attention::flash_backward(x.q, x.k, x.v, out, lse, x.dout, options);
    };
    attention::io_bytes io_one, io_two;
    const auto one = step(&io_one);
    parallel::scoped_threads two(2);
    const auto both = step(&io_two);
    CHECK(same_bits(one.dq, both.dq));
    CHECK(same_bits(one.dk, both.dk));
    CHECK(same_bits(one.dv, both.dv));
    CHECK(io_one.read == io_two.read);
    CHECK(io_one.written == io_two.written);
  }
}

TEST_CASE("the forward's logsumexp is log Σ_j exp(s_ij) of the double-precision scores") {
  const backward_case c{2, 1, 37, 37, 16, 8, 16, true};
  rng gen(3);
  const inputs x = random_inputs(c, gen);
  tensor<2> lse;
  attention::flash_options options{true, c.block_q, c.block_kv};
  options.logsumexp = &lse;
  const tensor<3> out = attention::flash(x.q, x.k, x.v, options);
  REQUIRE(lse.shape(0) == c.heads);
  REQUIRE(lse.shape(1) == c.seq_q);
  double worst = 0;
  for (std::size_t h = 0; h < c.heads; ++h)
    for (std::size_t i = 0; i < c.seq_q; ++i) {
      double sum = 0;
      for (std::size_t j = 0; j <= i; ++j) {
        double dot = 0;
        for (std::size_t e = 0; e < c.head_dim; ++e) dot += double(x.q(h, i, e)) * x.k(0, j, e);
        sum += std::exp(dot / 4.0);  // scale 1 / sqrt(16)
      }
      worst = std::max(worst, std::abs(lse(h, i) - std::log(sum)));
    }
  CHECK(worst <= 1e-5);
  // Asking for L changes nothing else.
  CHECK(testing::max_abs_diff(out, attention::flash(x.q, x.k, x.v, {true, 8, 16})) == 0);
}

TEST_CASE("fwd + bwd peak at seq 2048: naive O(heads · seq²), flash O(seq · head_dim), exactly") {
  // The formulas of flash_backward.hpp for h = 2, g = 1, N = N' = 2048, d = 32,
  // 64x64 tiles. naive: P and dP [h, N, N], O and dQ [h, N, d], dK and dV [g, N, d],
  // one [N, 64] panel. flash: O and dQ, dK and dV, L and D [h, N], K_j and V_j
  // transposed [d, 64] each, three 64x64 tiles.
  const backward_case c{2, 1, 2048, 2048, 32, 64, 64, true};
  const std::size_t h = 2, g = 1, n = 2048, d = 32, b = 64, f = sizeof(float);
  rng gen(9);
  const inputs x = random_inputs(c, gen);
  std::size_t naive_peak = 0, flash_peak = 0;
  {
    memory::peak_scope scope;
    run_naive(x, c.causal);
    naive_peak = scope.peak_bytes();
  }
  {
    memory::peak_scope scope;
    run_flash(x, c);
    flash_peak = scope.peak_bytes();
  }
  CHECK(parallel::threads() == 1);  // the page's thread count
  CHECK(naive_peak == (2 * h * n * n + 2 * h * n * d + 2 * g * n * d + 64 * n) * f);
  CHECK(flash_peak == (2 * h * n * d + 2 * g * n * d + 2 * h * n + 2 * d * b + 3 * b * b) * f);
  // 2hN² against (2h + 2g) N d: about 4N / 6d = 42x here, and growing with N.
  CHECK(naive_peak > 40 * flash_peak);
}

TEST_CASE(
    "fwd + bwd peak on 2 threads: the backward's tiles once per worker, w = min(2, kv_heads)") {
  // As above at seq 512. With g = 1 (MQA) the backward runs on one worker and the
  // peak is the 1-thread one; with g = 2 two workers hold a set of tiles each.
  const std::size_t h = 2, n = 512, d = 32, b = 64, f = sizeof(float);
  parallel::scoped_threads two(2);
  for (const std::size_t g : {std::size_t{1}, std::size_t{2}}) {
    CAPTURE(g);
    const backward_case c{h, g, n, n, d, b, b, true};
    rng gen(9);
    const inputs x = random_inputs(c, gen);
    memory::peak_scope scope;
    run_flash(x, c);
    const std::size_t w = g;
    CHECK(scope.peak_bytes() ==
          (2 * h * n * d + 2 * g * n * d + 2 * h * n + w * (2 * d * b + 3 * b * b)) * f);
  }
}

TEST_CASE("the backward names a tensor whose shape does not fit") {
  rng gen(1);
  const backward_case c{4, 2, 8, 8, 16, 4, 4, false};
  const inputs x = random_inputs(c, gen);
  const tensor<3> out = attention::flash(x.q, x.k, x.v);
  tensor<2> lse = tensor<2>::from_shape({4, 8});
  const auto wrong = random_normal<3>({4, 9, 16}, gen);
  using memlab::invalid_argument;
  CHECK_THROWS_WITH_AS(attention::flash_backward(x.q, x.k, x.v, wrong, lse, x.dout),
                       "out.shape = [4, 9, 16]: expected the same as q.shape = [4, 8, 16]",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash_backward(x.q, x.k, x.v, out, lse, wrong),
                       "dout.shape = [4, 9, 16]: expected the same as q.shape = [4, 8, 16]",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(
      attention::flash_backward(x.q, x.k, x.v, out, tensor<2>::from_shape({4, 9}), x.dout),
      "logsumexp.shape = [4, 9]: expected [heads, seq_q] = [4, 8]", invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash_backward(x.q, x.k, x.v, out, lse, x.dout, {false, 0, 4}),
                       "block_q = 0: expected at least 1 query row per tile", invalid_argument);
  CHECK_THROWS_WITH_AS(attention::naive_backward(x.q, x.k, x.v, wrong, x.dout),
                       "probs.shape = [4, 9, 16]: expected [heads, seq_q, seq_kv] = [4, 8, 8]",
                       invalid_argument);
  const auto k3 = random_normal<3>({3, 8, 16}, gen);
  CHECK_THROWS_WITH_AS(attention::naive_backward(x.q, k3, k3, wrong, x.dout),
                       "kv_heads = 3: expected a divisor of heads = 4", invalid_argument);
  // A failed call frees what it allocated.
  const std::size_t live = memory::tracker().live_bytes();
  CHECK_THROWS_AS(attention::flash_backward(x.q, x.k, x.v, out, lse, wrong), invalid_argument);
  CHECK(memory::tracker().live_bytes() == live);
}
