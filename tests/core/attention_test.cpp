#include "attention/attention.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "base/error.hpp"
#include "base/parallel.hpp"
#include "base/random.hpp"
#include "reference.hpp"

using namespace memlab;
using memlab::testing::attention_case;
using memlab::testing::describe;
using memlab::testing::max_abs_diff;
using memlab::testing::reference_attention;

namespace {

// This file also runs compiled to wasm (wasm/CMakeLists.txt), where flash's
// softmax takes its SIMD128 path; that build has no threads (base/parallel.cpp).
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
constexpr bool build_has_threads = false;
#else
constexpr bool build_has_threads = true;
#endif

tensor<3> zeros(std::size_t a, std::size_t b, std::size_t c) {
  return tensor<3>(std::array<std::size_t, 3>{a, b, c}, 0.0f);
}

// Standard normal q, k, v of a case's shapes, drawn in that order.
struct qkv {
  tensor<3> q, k, v;
};
qkv random_qkv(const attention_case& c, rng& gen) {
  qkv x;
  x.q = random_normal<3>({c.heads, c.seq_q, c.head_dim}, gen);
  x.k = random_normal<3>({c.kv_heads, c.seq_kv, c.head_dim}, gen);
  x.v = random_normal<3>({c.kv_heads, c.seq_kv, c.head_dim}, gen);
  return x;
}

}  // namespace

TEST_CASE("flash and naive attention match an independent double-precision reference") {
  const attention_case cases[] = {
      {4, 4, 64, 64, 16, 16, 16, false},    // MHA, seq a multiple of the tile
      {4, 4, 100, 100, 32, 32, 32, false},  // seq not a multiple of the tile
      {4, 4, 100, 100, 32, 32, 32, true},
      {4, 2, 77, 77, 24, 16, 8, true},    // GQA, rectangular tiles
      {4, 1, 77, 77, 24, 8, 16, false},   // MQA
      {6, 3, 50, 50, 7, 16, 16, true},    // head_dim odd
      {3, 3, 33, 33, 33, 64, 64, false},  // tile bigger than seq, head_dim 33
      {2, 1, 1, 1, 8, 64, 64, false},     // seq 1
      {2, 1, 1, 1, 8, 64, 64, true},
      {2, 2, 1, 40, 16, 16, 16, true},     // one new query over a cached prefix
      {4, 2, 9, 40, 16, 4, 16, true},      // a few new queries, end-aligned causal mask
      {2, 2, 40, 60, 16, 16, 16, false},   // seq_q < seq_kv without a mask
      {2, 1, 19, 19, 5, 1, 1, true},       // 1x1 tiles
      {1, 1, 130, 130, 64, 64, 64, true},  // the default tile, 3 tiles with a partial one
  };
  rng gen(42);
  for (const auto& c : cases) {
    CAPTURE(describe(c));
    const auto [q, k, v] = random_qkv(c, gen);
    const auto expected = reference_attention(q, k, v, c.causal);

    const auto naive = attention::naive(q, k, v, c.causal);
    const auto flash = attention::flash(q, k, v, {c.causal, c.block_q, c.block_kv});
    REQUIRE(flash.shape() == q.shape());
    CHECK(max_abs_diff(naive, expected) <= 1e-5);
    CHECK(max_abs_diff(flash, expected) <= 1e-5);
    CHECK(max_abs_diff(flash, naive) <= 1e-5);
  }
}

TEST_CASE("logits of magnitude 1e4 give finite outputs equal to the hand-computed softmax") {
  // head_dim 4 (scale 1/2): q_i = (200 a_i, 0, 0, 0), k_j = (50 b_j, 0, 0, 0) give
  // logits 5000 a_i b_j, exactly representable, up to 2e4 apart. A unique maximum
  // makes softmax one-hot (the next weight is below e^-5000), so the output is
  // that key's V row; two equal maxima give the mean of their two V rows.
  const float a[] = {1, 2, -1, 2};
  const float b[] = {1, -2, 2, 0, -1, 2};  // key 2 and key 5 tie for a > 0
  auto q = zeros(1, 4, 4);
  auto k = zeros(1, 6, 4);
  auto v = zeros(1, 6, 4);
  for (std::size_t i = 0; i < 4; ++i) q(0, i, 0) = 200 * a[i];
  for (std::size_t j = 0; j < 6; ++j) {
    k(0, j, 0) = 50 * b[j];
    for (std::size_t c = 0; c < 4; ++c) v(0, j, c) = float(10 * j + c);
  }
  // a > 0: keys 2 and 5 tie (logit 10000 a), output = (v_2 + v_5) / 2 = 35 + c.
  // a < 0: key 1 wins (logit 10000), output = v_1 = 10 + c.
  const float expected[4][4] = {
      {35, 36, 37, 38}, {35, 36, 37, 38}, {10, 11, 12, 13}, {35, 36, 37, 38}};

  for (std::size_t block : {1, 2, 3, 64}) {
    CAPTURE(block);
    const auto flash = attention::flash(q, k, v, {false, block, block});
    const auto naive = attention::naive(q, k, v, false);
    for (std::size_t i = 0; i < 4; ++i)
      for (std::size_t c = 0; c < 4; ++c) {
        CAPTURE(i);
        CAPTURE(c);
        REQUIRE(std::isfinite(flash(0, i, c)));
        CHECK(flash(0, i, c) == doctest::Approx(expected[i][c]).epsilon(1e-6));
        CHECK(naive(0, i, c) == doctest::Approx(expected[i][c]).epsilon(1e-6));
      }
  }
}

TEST_CASE("flash needs at least 100x less heap than naive at seq 4096") {
  // Exact figures from the tracker. naive keeps scores and probabilities
  // [heads, seq, seq] and the output; flash keeps the output, one transposed K tile [head_dim,
  // block_kv], one tile of scores [block_q, block_kv] and m, l [block_q].
  const std::size_t heads = 1, seq = 4096, d = 16, block = 64;
  rng gen(7);
  const auto q = random_normal<3>({heads, seq, d}, gen);
  const auto k = random_normal<3>({heads, seq, d}, gen);
  const auto v = random_normal<3>({heads, seq, d}, gen);

  std::size_t naive_peak = 0, flash_peak = 0;
  {
    memory::peak_scope scope;
    auto out = attention::naive(q, k, v, true);
    naive_peak = scope.peak_bytes();
  }
  {
    memory::peak_scope scope;
    auto out = attention::flash(q, k, v, {true, block, block});
    flash_peak = scope.peak_bytes();
  }
  const std::size_t f = sizeof(float);
  const std::size_t tiles = d * block + block * block + 2 * block;  // one worker's scratch
  CHECK(parallel::threads() == 1);                                  // the page's thread count
  CHECK(naive_peak == (2 * heads * seq * seq + heads * seq * d) * f);
  CHECK(flash_peak == (heads * seq * d + tiles) * f);
  CHECK(naive_peak >= 100 * flash_peak);
  // Each worker has its own scratch: on 2 threads it counts twice.
  if (!build_has_threads) return;
  parallel::scoped_threads two(2);
  memory::peak_scope scope;
  auto out = attention::flash(q, k, v, {true, block, block});
  CHECK(scope.peak_bytes() == (heads * seq * d + 2 * tiles) * f);
}

TEST_CASE("K/V bytes: MHA, GQA and MQA") {
  // Llama-2-7B-like head: 32 query heads of 128 at seq 4096.
  CHECK(attention::kv_bytes(32, 4096, 128) == 2ull * 32 * 4096 * 128 * 4);  // MHA: 128 MiB
  CHECK(attention::kv_bytes(8, 4096, 128) == 32ull * 1024 * 1024);          // GQA 8: 32 MiB
  CHECK(attention::kv_bytes(1, 4096, 128) == 4ull * 1024 * 1024);           // MQA: 4 MiB

  // The tracker sees exactly those bytes when K and V are allocated.
  for (std::size_t kv_heads : {8, 2, 1}) {
    CAPTURE(kv_heads);
    memory::peak_scope scope;
    auto k = tensor<3>::from_shape({kv_heads, 300, 64});
    auto v = tensor<3>::from_shape({kv_heads, 300, 64});
    CHECK(memory::tracker().live_bytes() - scope.start_live_bytes() ==
          attention::kv_bytes(kv_heads, 300, 64));
  }
}

TEST_CASE("causal flash visits only the tiles on or below the diagonal") {
  // seq 256 in 64x64 tiles: a 4x4 grid; the causal mask keeps 4+3+2+1 = 10.
  const attention::shape s{2, 2, 256, 256, 32};
  CHECK(attention::flash_tiles_visited(s, {false, 64, 64}) == 2 * 16);
  CHECK(attention::flash_tiles_visited(s, {true, 64, 64}) == 2 * 10);
  // 100 rows in tiles of 32: query tiles end at rows 31, 63, 95, 99 and see
  // 1, 2, 3, 4 key tiles of 32.
  CHECK(attention::flash_tiles_visited({1, 1, 100, 100, 8}, {true, 32, 32}) == 10);
  // Flops: 4 · heads · pairs · head_dim, with seq (seq + 1) / 2 pairs under the mask.
  CHECK(attention::flops(s, false) == 4.0 * 2 * 256 * 256 * 32);
  CHECK(attention::flops(s, true) == 4.0 * 2 * (256 * 257 / 2) * 32);
}

TEST_CASE("bad input raises an error naming the argument, its value and what was expected") {
  const auto q = zeros(4, 8, 16);
  const auto k = zeros(2, 8, 16);
  const auto k3 = zeros(3, 8, 16);
  using memlab::invalid_argument;

  CHECK_THROWS_WITH_AS(attention::flash(q, k3, k3), "kv_heads = 3: expected a divisor of heads = 4",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(attention::naive(q, k3, k3), "kv_heads = 3: expected a divisor of heads = 4",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(zeros(0, 8, 16), k, k), "heads = 0: expected at least 1",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(zeros(4, 0, 16), k, k),
                       "seq = 0: expected at least 1 query", invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(zeros(4, 8, 0), zeros(2, 8, 0), zeros(2, 8, 0)),
                       "head_dim = 0: expected at least 1", invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(q, zeros(0, 8, 16), zeros(0, 8, 16)),
                       "kv_heads = 0: expected at least 1", invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(q, zeros(2, 0, 16), zeros(2, 0, 16)),
                       "seq_kv = 0: expected at least 1 key", invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(q, zeros(2, 8, 12), zeros(2, 8, 12)),
                       "k.shape = [2, 8, 12]: expected head_dim 16 as in q.shape = [4, 8, 16]",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(q, k, zeros(2, 9, 16)),
                       "v.shape = [2, 9, 16]: expected the same as k.shape = [2, 8, 16]",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(zeros(4, 9, 16), k, k, {true, 64, 64}),
                       "seq_kv = 8: expected at least seq_q = 9 with a causal mask (every query "
                       "must see a key)",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(q, k, k, {false, 0, 64}),
                       "block_q = 0: expected at least 1 query row per tile", invalid_argument);
  CHECK_THROWS_WITH_AS(attention::flash(q, k, k, {false, 64, 0}),
                       "block_kv = 0: expected at least 1 key per tile", invalid_argument);

  // Nothing leaked: the failed calls freed whatever they had allocated.
  memory::peak_scope scope;
  CHECK_THROWS_AS(attention::flash(q, k, zeros(2, 9, 16)), invalid_argument);
  CHECK(memory::tracker().live_bytes() == scope.start_live_bytes());
}

TEST_CASE("flash on 2 threads gives the bits of flash on 1" * doctest::skip(!build_has_threads)) {
  // Every (head, Q tile) task writes only its own rows, whichever worker runs it.
  const attention_case cases[] = {
      {4, 4, 100, 100, 32, 32, 32, false}, {4, 2, 77, 77, 24, 16, 8, true},
      {3, 1, 70, 90, 16, 64, 64, true},    {2, 2, 1, 40, 16, 16, 16, true},
      {6, 3, 50, 50, 7, 16, 16, true},
  };
  rng gen(43);
  for (const auto& c : cases) {
    CAPTURE(describe(c));
    const auto [q, k, v] = random_qkv(c, gen);
    const attention::flash_options options{c.causal, c.block_q, c.block_kv};
    const auto one = attention::flash(q, k, v, options);
    parallel::scoped_threads two(2);
    REQUIRE(parallel::threads() == 2);
    const auto both = attention::flash(q, k, v, options);
    CHECK(std::memcmp(one.data(), both.data(), one.size() * sizeof(float)) == 0);
  }
}
