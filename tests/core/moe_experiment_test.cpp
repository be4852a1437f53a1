#include "model/moe_experiment.hpp"

#include <doctest/doctest.h>

#include <numeric>
#include <string>

#include "base/error.hpp"

using namespace memlab;

namespace {

gpt::config tiny_moe() {
  gpt::config c;
  c.layers = 2, c.d_model = 16, c.heads = 2, c.kv_heads = 2, c.d_ff = 32, c.max_seq = 16;
  return c;
}

}  // namespace

TEST_CASE("moe experiments: sizes are the tracked weights; active grows by the router only") {
  const auto rows = experiments::run_moe_sizes({tiny_moe(), {2, 4, 8}, 2});
  REQUIRE(rows.size() == 3);
  const std::size_t expert = 2 * 16 * 32, router_column = 16, L = 2;
  for (const auto& r : rows) {
    CHECK(r.weight_bytes == 4 * r.parameters);  // every expert resident
    CHECK(r.active_bytes == 4 * r.active_parameters);
  }
  // each doubling of E adds E experts and E router columns per layer to the total,
  // and E router columns only to what a token uses (k stays 2)
  CHECK(rows[1].parameters - rows[0].parameters == L * 2 * (expert + router_column));
  CHECK(rows[2].parameters - rows[1].parameters == L * 4 * (expert + router_column));
  CHECK(rows[2].active_parameters - rows[1].active_parameters == L * 4 * router_column);
  CHECK(rows[0].parameters == rows[0].active_parameters);  // E = k: all active
}

TEST_CASE("moe experiments: balance counts every token's k choices in every layer") {
  experiments::moe_balance_config b;
  b.model = tiny_moe();
  b.experts = 4, b.top_k = 2;
  b.steps = 2, b.batch = 1, b.seq = 8;
  b.text = "a mixture of experts routes every token to a few of them";
  b.eval_text = "twenty-one bytes here";
  int calls = 0;
  const auto f = experiments::run_moe_balance(b, [&](int done, int total) {
    ++calls;
    CHECK(total == 4);
    CHECK(done == calls);
  });
  CHECK(calls == 4);
  CHECK(f.eval_tokens == 21);
  for (const auto* r : {&f.without, &f.with}) {
    CHECK(r->choices.size() == 2);
    CHECK(std::accumulate(r->total.begin(), r->total.end(), std::size_t(0)) == 2 * 21 * 2);
    CHECK(r->max_over_mean >= 1.0);
    CHECK(r->losses.size() == 2);
  }
  CHECK(f.without.aux_loss_coef == 0.0f);
  CHECK(f.with.aux_loss_coef == b.aux_loss_coef);
  b.experts = 1;
  CHECK_THROWS_WITH_AS(experiments::run_moe_balance(b),
                       "experts = 1: expected at least 2 (one expert has nothing to balance)",
                       invalid_argument);
}

TEST_CASE("moe experiments: speed sets each MoE against a dense model of the same total size") {
  const auto rows = experiments::run_moe_speed({tiny_moe(), {2, 4}, 2, 2, 1});
  REQUIRE(rows.size() == 2);
  for (const auto& r : rows) {
    // dense d_ff · E holds the same expert weights, less the router's d · E
    CHECK(r.moe_parameters - r.dense_parameters == 2 * 16 * std::size_t(r.experts));
    CHECK(r.moe_ms_per_token > 0);
    CHECK(r.dense_ms_per_token > 0);
  }
  CHECK_THROWS_WITH_AS(experiments::run_moe_speed({tiny_moe(), {1}, 2, 2, 1}),
                       "top_k = 2: expected in [1, experts = 1]", invalid_argument);
}
