#include "kv_cache/kv_cache.hpp"

#include <doctest/doctest.h>

#include "attention/attention.hpp"
#include "attention/decode.hpp"
#include "base/error.hpp"
#include "base/random.hpp"
#include "paged_kv_cache/paged_kv_cache.hpp"
#include "reference.hpp"

using namespace memlab;

TEST_CASE(
    "the contiguous cache preallocates exactly 2 · layers · kv_heads · max_seq · head_dim floats") {
  for (std::size_t kv_heads : {8, 2, 1}) {  // MHA, GQA, MQA at 8 query heads
    CAPTURE(kv_heads);
    memory::peak_scope scope;
    contiguous_kv_cache cache(4, kv_heads, 512, 32);
    const std::size_t expected = 2 * 4 * kv_heads * 512 * 32 * 4;
    CHECK(cache.bytes() == expected);
    CHECK(contiguous_kv_cache::bytes_for(4, kv_heads, 512, 32) == expected);
    CHECK(memory::tracker().live_bytes() - scope.start_live_bytes() == expected);
  }
}

TEST_CASE("append is O(1): no allocation, nothing stored moves, rows read back exactly") {
  rng gen(5);
  contiguous_kv_cache cache(2, 2, 64, 8);
  const float* first_row = cache.layer(1).v(1, 0);
  std::vector<tensor<3>> ks, vs;
  for (std::size_t n : {5, 1, 1, 7}) {  // a prompt, then single tokens, then a chunk
    ks.push_back(random_normal<3>({2, n, 8}, gen));
    vs.push_back(random_normal<3>({2, n, 8}, gen));
  }
  memory::peak_scope scope;
  for (std::size_t i = 0; i < ks.size(); ++i)
    for (std::size_t layer = 0; layer < 2; ++layer) cache.append(layer, ks[i], vs[i]);
  CHECK(scope.allocations() == 0);
  CHECK(scope.peak_bytes() == 0);
  CHECK(cache.length() == 14);
  CHECK(cache.layer(1).v(1, 0) == first_row);  // the storage never moved
  CHECK(cache.layer(1).k(1, 0) == nullptr);    // K is kept transposed only
  REQUIRE(cache.layer(1).k_transposed_stride() == 64);
  CHECK(cache.layer(0).contiguous(3) == 11);

  std::size_t pos = 0;
  for (std::size_t i = 0; i < ks.size(); ++i)
    for (std::size_t j = 0; j < ks[i].shape(1); ++j, ++pos)
      for (std::size_t g = 0; g < 2; ++g)
        for (std::size_t c = 0; c < 8; ++c) {
          REQUIRE(cache.layer(1).k_transposed(g, pos)[c * 64] == ks[i](g, j, c));
          REQUIRE(cache.layer(1).v(g, pos)[c] == vs[i](g, j, c));
        }
  cache.clear();
  CHECK(cache.length() == 0);
}

TEST_CASE("attention over the cache equals attention over the same K/V as tensors") {
  rng gen(9);
  const auto q = random_normal<3>({4, 3, 16}, gen);
  const auto k = random_normal<3>({2, 40, 16}, gen);
  const auto v = random_normal<3>({2, 40, 16}, gen);
  contiguous_kv_cache cache(1, 2, 100, 16);
  cache.append(0, k, v);
  const auto expected = testing::reference_attention(q, k, v, true);
  const auto out = attention::flash(q, cache.layer(0), {true, 2, 16});
  CHECK(testing::max_abs_diff(out, expected) <= 1e-5);
  // K is kept transposed in the cache: same math, another summation order.
  CHECK(testing::max_abs_diff(out, attention::flash(q, k, v, {true, 2, 16})) <= 1e-6);
}

TEST_CASE("a full cache refuses an append, names the limit, and keeps what it had") {
  contiguous_kv_cache cache(1, 1, 4, 2);
  const auto three = tensor<3>(std::array<std::size_t, 3>{1, 3, 2}, 1.0f);
  const auto two = tensor<3>(std::array<std::size_t, 3>{1, 2, 2}, 2.0f);
  cache.append(0, three, three);
  CHECK_THROWS_WITH_AS(
      cache.append(0, two, two),
      "tokens = 5: expected at most max_seq = 4 (the cache holds 3 and 2 more were appended)",
      memlab::invalid_argument);
  CHECK(cache.length() == 3);
  CHECK(cache.layer(0).k_transposed(0, 2)[1 * 4] == 1.0f);
  CHECK_THROWS_WITH_AS(cache.append(0, tensor<3>(std::array<std::size_t, 3>{2, 1, 2}, 0.0f), two),
                       "k.shape = [2, 1, 2]: expected [kv_heads = 1, n, head_dim = 2]",
                       memlab::invalid_argument);
  CHECK_THROWS_WITH_AS(cache.append(1, three, three), "layer = 1: expected less than layers = 1",
                       memlab::invalid_argument);
  CHECK_THROWS_WITH_AS(contiguous_kv_cache(2, 0, 8, 8), "kv_heads = 0: expected at least 1",
                       memlab::invalid_argument);
}

TEST_CASE("decode: one query over the cache equals the double reference, and allocates nothing") {
  // Contiguous (K transposed), paged in blocks of 7 (runs, K transposed per
  // block) and K/V as tensors (K by rows); MHA, GQA and MQA; a single stored
  // token, a partial tile, several runs.
  rng gen(31);
  for (std::size_t kv_heads : {4, 2, 1}) {
    for (std::size_t seq : {1, 13, 100}) {
      CAPTURE(kv_heads);
      CAPTURE(seq);
      const std::size_t heads = 4, d = 20;
      const auto q = random_normal<3>({heads, 1, d}, gen);
      const auto k = random_normal<3>({kv_heads, seq, d}, gen);
      const auto v = random_normal<3>({kv_heads, seq, d}, gen);
      const auto expected = testing::reference_attention(q, k, v, false);
      contiguous_kv_cache contiguous(1, kv_heads, 128, d);
      block_pool pool(1, kv_heads, d, 7, (seq + 6) / 7);
      paged_kv_cache paged(pool);
      contiguous.append(0, k, v);
      paged.append(0, k, v);
      const attention::tensor_kv rows(k, v);
      for (const attention::kv_source* kv : {&contiguous.layer(0), &paged.layer(0),
                                             static_cast<const attention::kv_source*>(&rows)}) {
        auto out = tensor<3>::from_shape({heads, 1, d});
        auto scores = tensor<1>::from_shape({seq});
        memory::peak_scope scope;
        attention::decode(q.data(), heads, *kv, scores.data(), out.data());
        CHECK(scope.allocations() == 0);
        CHECK(testing::max_abs_diff(out, expected) <= 1e-5);
      }
    }
  }
}
