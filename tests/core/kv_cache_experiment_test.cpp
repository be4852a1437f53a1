// The KV-cache experiments (kv_cache/experiment.hpp): exact bytes counted by
// hand, results equal to the plain functions they time.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "base/error.hpp"
#include "kv_cache/experiment.hpp"
#include "quant/matrix.hpp"

using namespace memlab;
using memlab::invalid_argument;

namespace {

// 2 layers, d_model 32, 4 heads (head_dim 8), d_ff 48, max_seq 64.
gpt::config small(int kv_heads, bool tied = true) { return {2, 32, 4, kv_heads, 48, 64, tied}; }

}  // namespace

TEST_CASE("the weight read a decoding step cannot avoid: exact bytes, a positive time") {
  // small(2): d_model 32, head_dim 8, kv 16 wide, d_ff 48, 2 layers. Per layer
  // two norms (64), wq 32·32, wk and wv 32·16, wo 32·32, w1 and w2 32·48:
  // 6208 floats; then the final norm (32) and the output head 256·32. The
  // position table is not multiplied: one row is added per token.
  const std::size_t floats = 2 * (64 + 1024 + 512 + 512 + 1024 + 1536 + 1536) + 32 + 256 * 32;
  for (bool tied : {true, false}) {
    CAPTURE(tied);
    const gpt::model m(small(2, tied), 1);
    const auto read = experiments::time_weight_read(m, 3);
    CHECK(read.bytes == floats * sizeof(float));
    CHECK(read.bytes == (m.parameter_count() - 64 * 32 - (tied ? 0 : 256 * 32)) * sizeof(float));
    CHECK(read.us > 0);
    CHECK(std::isfinite(read.us));
    CHECK(read.products_us > 0);
    CHECK(std::isfinite(read.products_us));
  }
  const gpt::model m(small(2), 1);
  CHECK(experiments::time_weight_read(small(2), 1, 1).bytes == floats * sizeof(float));
  CHECK_THROWS_WITH_AS(experiments::time_weight_read(m, 0),
                       "repeats = 0: expected an integer in [1, 100]", memlab::invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::time_weight_read(m.quantized(quant::parse_format("fp16")), 1),
                       "model = quantized: expected an fp32 model (a quantized model's matrices "
                       "are read by its own kernels)",
                       memlab::invalid_argument);
  // An MoE layer has no w1 and w2 (its experts hold them): refused, not read
  // as empty matrices.
  gpt::config moe = small(2);
  moe.experts = 4, moe.top_k = 2;
  CHECK_THROWS_WITH_AS(experiments::time_weight_read(gpt::model(moe, 1), 1),
                       "experts = 4: expected 0, a dense model (an MoE step reads the router "
                       "and the top_k experts each token picks, not w1 and w2)",
                       memlab::invalid_argument);
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

TEST_CASE("the generation experiment: generate()'s tokens, the cache's bytes by hand") {
  experiments::generation_config c;
  c.model = small(2);
  c.model_seed = 3;
  c.prompt = "ab";
  c.tokens = 6;
  const auto with = experiments::run_generation(c);
  c.use_cache = false;
  const auto without = experiments::run_generation(c);
  const auto expected = generate(gpt::model(small(2), 3), gpt::encode("ab"), 6, false);
  CHECK(with.text == gpt::decode(expected.tokens));
  CHECK(without.text == with.text);
  // K and V, 2 layers, 2 KV heads of head_dim 8, 4 bytes: per token, and for max_seq 64.
  CHECK(with.kv_bytes_per_token == 2 * 2 * 2 * 8 * 4);
  CHECK(with.cache_bytes == 64 * with.kv_bytes_per_token);
  CHECK(without.cache_bytes == 0);
  CHECK(with.peak_bytes >= with.cache_bytes);
  CHECK(with.weight_bytes == 4 * gpt::model(small(2), 3).parameter_count());
  c.tokens = 0;
  CHECK_THROWS_WITH_AS(experiments::run_generation(c), "tokens = 0: expected a positive integer",
                       invalid_argument);
}

TEST_CASE("the generation table: each row's speedup and ceiling from its own runs") {
  experiments::generation_config c;
  c.model = small(4);
  c.prompt = "a";
  const auto table = experiments::run_generation_table(c, {4, 9}, 2);
  CHECK(table.repeats == 2);
  CHECK(table.read.bytes == experiments::time_weight_read(gpt::model(small(4), 1), 1).bytes);
  REQUIRE(table.rows.size() == 2);
  for (const auto& r : table.rows) {
    CAPTURE(r.tokens);
    CHECK(r.no_cache.config.tokens == r.tokens);
    CHECK(!r.no_cache.config.use_cache);
    CHECK(r.cache.config.use_cache);
    CHECK(r.cache.text == r.no_cache.text);
    CHECK(r.speedup == r.cache.tokens_per_second / r.no_cache.tokens_per_second);
    CHECK(r.speedup_ceiling == r.no_cache.ms * 1000.0 / (r.tokens * table.read.us));
  }
  CHECK(table.rows[1].tokens == 9);
  CHECK_THROWS_WITH_AS(experiments::run_generation_table(c, {4}, 0),
                       "repeats = 0: expected an integer in [1, 100]", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_generation_table(c, {64}, 1),
                       "max_new_tokens = 64: expected at most max_seq - prompt length = 63",
                       invalid_argument);
}

TEST_CASE("KV cache sizes: one table for every kv_heads and length, counted by hand") {
  const auto rows = experiments::kv_cache_sizes(small(4), {4, 2, 1}, {8, 16});
  REQUIRE(rows.size() == 6);
  std::size_t i = 0;
  for (int kv_heads : {4, 2, 1})
    for (int tokens : {8, 16}) {
      CAPTURE(i);
      CHECK(rows[i].kv_heads == kv_heads);
      CHECK(rows[i].tokens == tokens);
      // K and V · 2 layers · kv_heads · tokens · head_dim 8 · 4 bytes
      CHECK(rows[i].bytes == std::size_t(2 * 2 * kv_heads * tokens * 8 * 4));
      ++i;
    }
  CHECK(experiments::kv_cache_bytes(small(2), 8) == 2 * 2 * 2 * 8 * 8 * 4);
  CHECK_THROWS_WITH_AS(experiments::kv_cache_sizes(small(4), {3}, {8}),
                       "kv_heads = 3: expected a divisor of heads = 4", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::kv_cache_sizes(small(4), {4}, {8, 0}),
                       "tokens = 0: expected a positive integer", invalid_argument);
}
