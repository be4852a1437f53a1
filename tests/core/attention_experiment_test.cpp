#include <doctest/doctest.h>

#include <cmath>

#include "attention/experiment.hpp"
#include "base/error.hpp"

using namespace memlab;

TEST_CASE("the attention experiment reports exact memory and a small difference") {
  experiments::attention_config c;
  c.seq = 200;
  c.head_dim = 32;
  c.heads = 4;
  c.kv_heads = 2;
  c.block_q = c.block_kv = 64;
  c.repeats = 3;
  const auto f = experiments::run_attention(c);

  REQUIRE(f.naive.ran);
  REQUIRE(f.flash.ran);
  CHECK(f.max_abs_diff <= 1e-5);
  CHECK(f.kv_bytes == 2 * 2 * 200 * 32 * 4);
  CHECK(f.flops == 4.0 * 4 * 200 * 200 * 32);
  CHECK(f.flash.median_ms > 0);
  CHECK(f.flash.gflops == doctest::Approx(f.flops / (f.flash.median_ms * 1e6)));
  // Same formulas as in the attention tests, here with heads 4, seq 200, d 32.
  CHECK(f.naive.peak_bytes == (2 * 4 * 200 * 200 + 2 * 4 * 200 + 4 * 200 * 32) * 4);
  CHECK(f.flash.peak_bytes == (4 * 200 * 32 + 32 * 64 + 64 * 64 + 2 * 64) * 4);

  c.run_naive = false;
  const auto flash_only = experiments::run_attention(c);
  CHECK_FALSE(flash_only.naive.ran);
  CHECK(std::isnan(flash_only.max_abs_diff));
  CHECK(flash_only.flash.peak_bytes == f.flash.peak_bytes);  // deterministic
}

TEST_CASE("the attention experiment names a bad parameter") {
  auto config = [](auto change) {
    experiments::attention_config c;
    c.seq = 16;
    c.head_dim = 8;
    change(c);
    return c;
  };
  using memlab::invalid_argument;
  CHECK_THROWS_WITH_AS(experiments::run_attention(config([](auto& c) { c.seq = -1; })),
                       "seq = -1: expected a positive integer", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_attention(config([](auto& c) { c.head_dim = 0; })),
                       "head_dim = 0: expected a positive integer", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_attention(config([](auto& c) { c.kv_heads = 3; })),
                       "kv_heads = 3: expected a divisor of heads = 4", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_attention(config([](auto& c) { c.block_kv = 0; })),
                       "block_kv = 0: expected a positive integer", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_attention(config([](auto& c) { c.repeats = 0; })),
                       "repeats = 0: expected an integer in [1, 100]", invalid_argument);
}

TEST_CASE("the cache decoding experiment: bytes counted by hand, the result naive attention's") {
  experiments::cache_decode_config c;
  c.tokens = 100;
  c.heads = 4;
  c.kv_heads = 2;
  c.head_dim = 16;
  c.repeats = 2;
  const auto f = experiments::run_cache_decode(c);
  REQUIRE(f.run.ran);
  CHECK(f.cache_bytes == 2 * 2 * 100 * 16 * 4);
  // the cache, the previous and the new output (heads · head_dim each), and
  // flash's scratch: one tile of 64 scores and the running max and sum of the row
  CHECK(f.run.peak_bytes == f.cache_bytes + (2 * 4 * 16 + 64 + 2) * 4);
  CHECK(f.max_abs_diff <= 1e-5);
  CHECK(f.run.median_ms > 0);
}

TEST_CASE("the cache decoding experiment names a bad parameter") {
  using memlab::invalid_argument;
  experiments::cache_decode_config c;
  c.tokens = 0;
  CHECK_THROWS_WITH_AS(experiments::run_cache_decode(c), "tokens = 0: expected a positive integer",
                       invalid_argument);
  c.tokens = 8;
  c.kv_heads = 3;
  CHECK_THROWS_WITH_AS(experiments::run_cache_decode(c),
                       "kv_heads = 3: expected a divisor of heads = 4", invalid_argument);
  c.kv_heads = 1;
  c.repeats = -1;
  CHECK_THROWS_WITH_AS(experiments::run_cache_decode(c),
                       "repeats = -1: expected an integer in [1, 100]", invalid_argument);
}
