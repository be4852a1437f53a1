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
  CHECK(f.naive.peak_bytes == (2 * 4 * 200 * 200 + 4 * 200 * 32) * 4);
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

TEST_CASE("the flash backward experiment: exact peaks, gradients that agree") {
  experiments::attention_config c;
  c.seq = 200;
  c.head_dim = 32;
  c.heads = 4;
  c.kv_heads = 2;
  c.causal = true;
  c.block_q = c.block_kv = 64;
  c.repeats = 2;
  const auto f = experiments::run_flash_backward(c);
  REQUIRE(f.naive.ran);
  REQUIRE(f.flash.ran);
  CHECK(f.max_rel_diff <= 1e-5);
  CHECK(f.flops == 3 * 4.0 * 4 * (200 * 201 / 2) * 32);
  // flash_backward.hpp's formulas for h 4, g 2, N 200, d 32, 64x64 tiles:
  // naive 2hN² + 2hNd + 2gNd + 64N; flash 2hNd + 2gNd + 2hN + 2d·64 + 3·64².
  CHECK(f.naive.peak_bytes ==
        (2 * 4 * 200 * 200 + 2 * 4 * 200 * 32 + 2 * 2 * 200 * 32 + 64 * 200) * 4);
  CHECK(f.flash.peak_bytes ==
        (2 * 4 * 200 * 32 + 2 * 2 * 200 * 32 + 2 * 4 * 200 + 2 * 32 * 64 + 3 * 64 * 64) * 4);

  c.run_naive = false;
  const auto flash_only = experiments::run_flash_backward(c);
  CHECK_FALSE(flash_only.naive.ran);
  CHECK(std::isnan(flash_only.max_rel_diff));
  CHECK(flash_only.flash.peak_bytes == f.flash.peak_bytes);
}

TEST_CASE("the flash backward and I/O experiments name a bad parameter") {
  using memlab::invalid_argument;
  experiments::attention_config c;
  c.seq = 16;
  c.kv_heads = 3;
  CHECK_THROWS_WITH_AS(experiments::run_flash_backward(c),
                       "kv_heads = 3: expected a divisor of heads = 4", invalid_argument);
  c.kv_heads = 4;
  c.block_q = -2;
  CHECK_THROWS_WITH_AS(experiments::run_flash_backward(c),
                       "block_q = -2: expected a positive integer", invalid_argument);
  // naive's P and dP of 4 heads at seq 20000, refused before any allocation:
  // (q, O, dO, dQ and k, v, dK, dV: 8 · 4 · 20000 · 64 floats, P and dP 2 · 4 · 20000²
  // = 3.2e9, and 4 · 4096) · 4 bytes = 12963905536 bytes = 12.07 GiB
  c.block_q = 64;
  c.seq = 20000;
  CHECK_THROWS_WITH_AS(experiments::run_flash_backward(c),
                       "seq = 20000, heads = 4, head_dim = 64: expected at most 1.00 GiB held by "
                       "one call (q, k, v, dO, the gradients and naive's P and dP: 12.1 GiB)",
                       invalid_argument);

  experiments::io_bytes_config io;
  io.seq = 16;
  io.fast_bytes = 0;
  CHECK_THROWS_WITH_AS(experiments::run_io_bytes(io), "fast_bytes = 0: expected a positive integer",
                       invalid_argument);
  io.fast_bytes = 512;
  CHECK_THROWS_WITH_AS(experiments::run_io_bytes(io),
                       "fast_bytes = 512: expected at least 16 · head_dim = 1024 (four rows of "
                       "head_dim floats)",
                       invalid_argument);
}

TEST_CASE("the I/O experiment: counted bytes equal the closed forms, tiles from M") {
  experiments::io_bytes_config c;
  c.seq = 300;
  c.head_dim = 32;
  c.heads = 2;
  c.kv_heads = 1;
  c.causal = true;
  c.fast_bytes = 8 * 1024;  // 2048 floats: outer tiles of ceil(2048 / 128) = 16 rows
  const auto f = experiments::run_io_bytes(c);
  CHECK(f.forward_block_q == 16);
  CHECK(f.forward_block_kv == 16);
  CHECK(f.backward_block_q == 16);
  CHECK(f.backward_block_kv == 16);
  for (const auto* count : {&f.naive, &f.naive_backward, &f.flash, &f.flash_backward, &f.lsh}) {
    REQUIRE(count->ran);
    CHECK(count->read == count->formula_read);
    CHECK(count->written == count->formula_written);
  }
  // naive forward: 2 heads · 4 (4Nd + 4N²) bytes, the paper's Θ(Nd + N²) exactly 16x
  CHECK(f.naive.read + f.naive.written == 16 * f.nd_plus_n2);
  CHECK(f.nd_plus_n2 == 2.0 * (300 * 32 + 300 * 300));
  CHECK(f.n2d2_over_m == 2.0 * 300 * 300 * 32 * 32 / 8192);
}
