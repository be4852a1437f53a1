#include "train/checkpoint.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "base/error.hpp"
#include "base/random.hpp"

using namespace memlab;
using namespace memlab::checkpoint;

namespace {

struct problem {
  mlp_stack stack;
  tensor<2> x, target;
  problem(int layers, int batch, int width, int hidden) : stack(layers, width, hidden, 7) {
    rng gen(11);
    x = random_normal<2>({std::size_t(batch), std::size_t(width)}, gen);
    target = random_normal<2>({std::size_t(batch), std::size_t(width)}, gen);
  }
};

bool same(const tensor<2>& a, const tensor<2>& b) {
  return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

}  // namespace

TEST_CASE("checkpointing: the hand-written backward matches central finite differences") {
  problem p(3, 2, 4, 6);
  // Bigger weights than the default so that GELU's curvature matters.
  for (auto& b : p.stack.blocks) b.w1 *= 2.0f, b.w2 *= 2.0f;
  gradients g(p.stack);
  const auto r = train_step(p.stack, p.x, p.target, policy::none(), g);
  CHECK(r.loss == doctest::Approx(loss(p.stack, p.x, p.target)));
  const float eps = 1e-2f;
  auto check = [&](float& w, float analytic) {
    const float keep = w;
    w = keep + eps;
    const double up = loss(p.stack, p.x, p.target);
    w = keep - eps;
    const double down = loss(p.stack, p.x, p.target);
    w = keep;
    const double numeric = (up - down) / (2.0 * eps);
    // Central differences err by O(eps²) ≈ 1e-4 here, float rounding of the
    // loss by ~1e-5; 1e-3 + 1% leaves room for both and catches any wrong term.
    CHECK(std::abs(numeric - analytic) <= 1e-3 + 1e-2 * std::abs(numeric));
  };
  for (std::size_t b = 0; b < p.stack.blocks.size(); ++b) {
    for (std::size_t i = 0; i < p.stack.blocks[b].w1.size(); ++i)
      check(p.stack.blocks[b].w1.data()[i], g.blocks[b].w1.data()[i]);
    for (std::size_t i = 0; i < p.stack.blocks[b].w2.size(); ++i)
      check(p.stack.blocks[b].w2.data()[i], g.blocks[b].w2.data()[i]);
  }
  for (std::size_t i = 0; i < p.x.size(); ++i) check(p.x.data()[i], r.input_grad.data()[i]);
}

TEST_CASE("checkpointing: every policy gives bitwise the same loss and gradients") {
  problem p(16, 4, 8, 24);
  gradients reference(p.stack);
  const auto base = train_step(p.stack, p.x, p.target, policy::none(), reference);
  for (const auto& pol :
       {policy::every(1), policy::every(2), policy::every(3), policy::every(16), policy::sqrt_n(),
        policy::at({5}), policy::at({3, 7, 11}), policy::at({15, 1})}) {
    CAPTURE(pol.name());
    gradients g(p.stack);
    const auto r = train_step(p.stack, p.x, p.target, pol, g);
    CHECK(r.loss == base.loss);
    CHECK(same(r.input_grad, base.input_grad));
    for (std::size_t b = 0; b < g.blocks.size(); ++b) {
      CHECK(same(g.blocks[b].w1, reference.blocks[b].w1));
      CHECK(same(g.blocks[b].w2, reference.blocks[b].w2));
    }
  }
}

TEST_CASE("checkpointing: peak activation bytes equal the documented formula exactly") {
  const int n = 16;
  const std::size_t batch = 4, d = 8, f = 24;
  problem p(n, int(batch), int(d), int(f));
  const std::size_t a = 4 * batch * d, h = 4 * batch * f;
  // Hand-computed from the header's derivation, independently of the function.
  struct expected_case {
    policy pol;
    std::size_t peak;
    int recomputed;
  };
  const expected_case cases[] = {
      {policy::none(), 17 * a + 17 * h, 0},     // (n+1)(a+h)
      {policy::sqrt_n(), 8 * a + 5 * h, 12},    // 4 segments of 4: m + L = 8
      {policy::every(1), 17 * a + 2 * h, 15},   // every input kept: m = 16, L = 1
      {policy::every(8), 10 * a + 9 * h, 8},    // m = 2, L = 8
      {policy::at({5}), 13 * a + 12 * h, 5},    // segments 5 and 11: last is 2 + 11
      {policy::at({12}), 13 * a + 13 * h, 12},  // segments 12, 4: j = 0 gives 1 + 12
  };
  for (const auto& e : cases) {
    CAPTURE(e.pol.name());
    gradients g(p.stack);
    const auto r = train_step(p.stack, p.x, p.target, e.pol, g);
    CHECK(r.peak_bytes == e.peak);
    CHECK(peak_activation_bytes(r.checkpoints, n, batch, d, f) == e.peak);
    CHECK(r.recomputed_blocks == e.recomputed);
  }
  // The formula for other shapes and policies, against the measurement.
  for (int layers : {1, 2, 5, 9, 16}) {
    problem q(layers, 3, 4, 10);
    for (const auto& pol : {policy::none(), policy::sqrt_n(), policy::every(2), policy::every(3)}) {
      CAPTURE(layers);
      CAPTURE(pol.name());
      gradients g(q.stack);
      const auto r = train_step(q.stack, q.x, q.target, pol, g);
      CHECK(r.peak_bytes == peak_activation_bytes(r.checkpoints, layers, 3, 4, 10));
    }
  }
}

TEST_CASE("checkpointing: the timeline is a sawtooth that peaks at the measured peak") {
  problem p(16, 4, 8, 24);
  const std::size_t a = 4 * 4 * 8;
  for (const auto& pol : {policy::none(), policy::sqrt_n()}) {
    gradients g(p.stack);
    const auto r = train_step(p.stack, p.x, p.target, pol, g, true);
    REQUIRE(r.timeline.size() > 10);
    std::size_t top = 0;
    for (const auto& e : r.timeline) top = std::max(top, e.live_bytes);
    CHECK(top == r.peak_bytes);
    CHECK(r.timeline.front().live_bytes == 0);
    CHECK(r.timeline.back().live_bytes == a);  // only dL/dx_0 is left
    CHECK(r.backward_start_ms > 0);
    CHECK(r.backward_start_ms <= r.timeline.back().time_ms);
    // Sawtooth: with sqrt the live bytes fall and rise again in the backward
    // pass (each segment recomputed, then freed).
    int rises_after_fall = 0;
    bool fell = false;
    for (std::size_t i = 1; i < r.timeline.size(); ++i) {
      if (r.timeline[i].time_ms < r.backward_start_ms) continue;
      if (r.timeline[i].live_bytes < r.timeline[i - 1].live_bytes) fell = true;
      if (fell && r.timeline[i].live_bytes > r.timeline[i - 1].live_bytes + 2 * a)
        ++rises_after_fall, fell = false;
    }
    if (pol.what == policy::kind::sqrt) CHECK(rises_after_fall >= 3);
  }
}

TEST_CASE("checkpointing: bad policies are named") {
  auto message = [](auto&& fn) {
    try {
      fn();
    } catch (const invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message([] { checkpoints(policy::every(0), 16); }) ==
        "k = 0: expected a positive number of blocks per segment");
  CHECK(message([] { checkpoints(policy::every(-3), 16); }) ==
        "k = -3: expected a positive number of blocks per segment");
  CHECK(message([] {
          checkpoints(policy::at({2, 16}), 16);
        }) == "policy = set:2,16: expected block indices in [0, 16) (block 16 is not)");
  CHECK(message([] { checkpoints(policy::at({-1}), 4); }) ==
        "policy = set:-1: expected block indices in [0, 4) (block -1 is not)");
  CHECK(message([] { policy::parse("every:x"); }) ==
        "policy = every:x: expected none, sqrt, every:K or set:I,J,... with integers");
  CHECK(message([] { policy::parse("half"); }) ==
        "policy = half: expected none, sqrt, every:K or set:I,J,...");
  CHECK(policy::parse("every:4").k == 4);
  CHECK(policy::parse("set:1,5").blocks == std::vector<int>{1, 5});
  CHECK(message([] { mlp_stack(0, 4, 4, 1); }) == "layers = 0: expected a positive integer");
}
