#include "model/moe.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "base/error.hpp"
#include "base/random.hpp"
#include "model/generate.hpp"
#include "model/gpt.hpp"
#include "train/train.hpp"

using namespace memlab;

namespace {

gpt::config small_moe(int experts, int top_k, float capacity_factor) {
  gpt::config c;
  c.layers = 2;
  c.d_model = 32;
  c.heads = 4;
  c.kv_heads = 2;
  c.d_ff = 64;
  c.max_seq = 64;
  c.experts = experts;
  c.top_k = top_k;
  c.capacity_factor = capacity_factor;
  return c;
}

// The dense model's weights with expert 0 = its MLP and a random router: with
// one expert and k = 1 the MoE model must compute exactly what the dense one does.
gpt::weights as_one_expert(const gpt::config& moe_config, const gpt::weights& dense) {
  gpt::weights w = dense;
  rng gen(99);
  for (auto& l : w.layers) {
    l.router = random_normal<2>({std::size_t(moe_config.d_model), 1}, gen, 0.5f);
    l.experts = {moe::expert{l.w1, l.w2}};
    l.w1 = tensor<2>(), l.w2 = tensor<2>();
  }
  return w;
}

bool bitwise_equal(const tensor<2>& a, const tensor<2>& b) {
  return a.shape() == b.shape() && std::equal(a.begin(), a.end(), b.begin());
}

// ---- an independent reference of the block, in double precision -------------

struct reference_block {
  std::size_t n, d, ff, E, k;
  double cf;
  std::vector<double> h, router;            // [n, d], [d, E]
  std::vector<std::vector<double>> w1, w2;  // per expert [d, ff], [ff, d]
};

double gelu(double x) {
  return 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x)));
}

// Top-k by a stable sort of (−p, index): the same order as "largest first, ties
// to the lower index", computed another way than moe::route.
std::vector<std::size_t> top_k_of(const std::vector<double>& p, std::size_t k) {
  std::vector<std::size_t> order(p.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return p[a] > p[b]; });
  order.resize(k);
  return order;
}

struct reference_result {
  std::vector<double> y;               // [n, d]
  std::vector<std::vector<double>> p;  // [n][E]
  std::vector<std::vector<std::size_t>> top;
  std::vector<std::vector<double>> gate;  // [n][k]
  std::vector<std::vector<bool>> kept;    // [n][k]
  double aux = 0;
};

reference_result reference(const reference_block& b) {
  reference_result r;
  r.y.assign(b.n * b.d, 0.0);
  r.p.assign(b.n, std::vector<double>(b.E));
  for (std::size_t t = 0; t < b.n; ++t) {
    double max = -1e300, sum = 0;
    for (std::size_t e = 0; e < b.E; ++e) {
      double z = 0;
      for (std::size_t c = 0; c < b.d; ++c) z += b.h[t * b.d + c] * b.router[c * b.E + e];
      r.p[t][e] = z, max = std::max(max, z);
    }
    for (double& z : r.p[t]) sum += (z = std::exp(z - max));
    for (double& z : r.p[t]) z /= sum;
    r.top.push_back(top_k_of(r.p[t], b.k));
    double s = 0;
    for (auto e : r.top[t]) s += r.p[t][e];
    std::vector<double> g;
    for (auto e : r.top[t]) g.push_back(b.k == 1 ? r.p[t][e] : r.p[t][e] / s);
    r.gate.push_back(g);
  }
  // capacity: first choices of every token, then second choices, ...
  const std::size_t C =
      b.cf > 0 ? std::max<std::size_t>(1, std::size_t(std::floor(b.cf * b.k * b.n / b.E)))
               : b.n * b.k;
  std::vector<std::size_t> used(b.E, 0);
  r.kept.assign(b.n, std::vector<bool>(b.k, false));
  for (std::size_t i = 0; i < b.k; ++i)
    for (std::size_t t = 0; t < b.n; ++t)
      if (used[r.top[t][i]] < C) ++used[r.top[t][i]], r.kept[t][i] = true;
  for (std::size_t t = 0; t < b.n; ++t)
    for (std::size_t i = 0; i < b.k; ++i) {
      if (!r.kept[t][i]) continue;
      const std::size_t e = r.top[t][i];
      std::vector<double> hid(b.ff, 0.0);
      for (std::size_t j = 0; j < b.ff; ++j) {
        for (std::size_t c = 0; c < b.d; ++c) hid[j] += b.h[t * b.d + c] * b.w1[e][c * b.ff + j];
        hid[j] = gelu(hid[j]);
      }
      for (std::size_t c = 0; c < b.d; ++c) {
        double o = 0;
        for (std::size_t j = 0; j < b.ff; ++j) o += hid[j] * b.w2[e][j * b.d + c];
        r.y[t * b.d + c] += r.gate[t][i] * o;
      }
    }
  for (std::size_t e = 0; e < b.E; ++e) {
    double f = 0, P = 0;
    for (std::size_t t = 0; t < b.n; ++t) {
      P += r.p[t][e] / double(b.n);
      for (auto x : r.top[t]) f += (x == e) / double(b.n);
    }
    r.aux += double(b.E) * f * P;
  }
  return r;
}

std::vector<double> to_double(const tensor<2>& t) { return {t.begin(), t.end()}; }

}  // namespace

TEST_CASE("moe: one expert with k = 1 is the dense model, bit for bit") {
  const gpt::config dense = small_moe(0, 1, 0);
  const gpt::model d(dense, 5);
  const auto tokens = gpt::encode("Experts: one of them, always.");
  for (float cf : {0.0f, 1.0f, 1.25f}) {
    CAPTURE(cf);
    const gpt::config c = small_moe(1, 1, cf);
    const gpt::model m(c, as_one_expert(c, d.params()));
    CHECK(bitwise_equal(m.forward(tokens), d.forward(tokens)));
    // quantized, through the experts' own quantized matrices
    const auto f = quant::parse_format("q8_0");
    CHECK(bitwise_equal(m.quantized(f).forward(tokens), d.quantized(f).forward(tokens)));
    // with a KV cache, token by token
    auto cache_d = d.make_cache();
    auto cache_m = m.make_cache();
    for (int token : tokens) {
      const tensor<1> a = m.next_logits({token}, &cache_m), b = d.next_logits({token}, &cache_d);
      REQUIRE(std::equal(a.begin(), a.end(), b.begin()));
    }
  }
}

TEST_CASE("moe: one expert with k = 1 trains as the dense model") {
  const gpt::config dense = small_moe(0, 1, 0);
  const gpt::weights wd = gpt::model(dense, 6).params();
  const gpt::config c = small_moe(1, 1, 1.25f);
  const gpt::weights wm = as_one_expert(c, wd);
  const auto tokens = gpt::encode("the same sum, the same order");
  gpt::weights gd = train::zeros_like(wd), gm = train::zeros_like(wm);
  const double ld = train::loss_and_gradient(dense, wd, tokens, gd);
  const double lm = train::loss_and_gradient(c, wm, tokens, gm);
  // one expert: f = P = 1, aux = E · f · P = 1 in every layer
  CHECK(lm == doctest::Approx(ld + c.aux_loss_coef).epsilon(1e-12));
  CHECK(bitwise_equal(gm.token_embedding, gd.token_embedding));
  for (std::size_t l = 0; l < wd.layers.size(); ++l) {
    CHECK(bitwise_equal(gm.layers[l].wq, gd.layers[l].wq));
    CHECK(bitwise_equal(gm.layers[l].experts[0].w1, gd.layers[l].w1));
    CHECK(bitwise_equal(gm.layers[l].experts[0].w2, gd.layers[l].w2));
    // p = 1 whatever the logit: the router gets no gradient
    for (float g : gm.layers[l].router) CHECK(g == 0.0f);
  }
}

TEST_CASE("moe: top-k and gates match a plain reference") {
  rng gen(3);
  for (int E : {2, 4, 8})
    for (int k = 1; k <= std::min(E, 3); ++k) {
      CAPTURE(E);
      CAPTURE(k);
      const std::size_t n = 40, d = 8;
      const auto h = random_normal<2>({n, d}, gen);
      const auto router = random_normal<2>({d, std::size_t(E)}, gen);
      const moe::routing r = moe::route(h, router, k, 0.0f);
      reference_block b{
          n, d, 1, std::size_t(E), std::size_t(k), 0.0, to_double(h), to_double(router), {}, {}};
      b.w1.assign(E, std::vector<double>(d, 0.0)), b.w2.assign(E, std::vector<double>(d, 0.0));
      const reference_result ref = reference(b);
      for (std::size_t t = 0; t < n; ++t) {
        for (int e = 0; e < E; ++e)
          CHECK(r.probs(t, e) == doctest::Approx(ref.p[t][e]).epsilon(1e-5));
        double sum = 0;
        for (int i = 0; i < k; ++i) {
          CHECK(r.choice[t * k + i] == int(ref.top[t][i]));
          CHECK(r.gate[t * k + i] == doctest::Approx(ref.gate[t][i]).epsilon(1e-5));
          sum += r.gate[t * k + i];
        }
        if (k > 1) CHECK(sum == doctest::Approx(1.0).epsilon(1e-6));  // renormalised
      }
      CHECK(r.dropped() == 0);  // no capacity
      CHECK(r.rows() == n * k);
      CHECK(r.aux_loss == doctest::Approx(ref.aux).epsilon(1e-5));
    }
}

TEST_CASE("moe: capacity drops the assignments a hand count predicts") {
  // d = 2, E = 2, router = identity: a token goes first to the larger of its two
  // coordinates. Tokens 0..5 prefer experts 0 0 1 0 0 0.
  const std::size_t n = 6;
  tensor<2> h = xt::zeros<float>({n, std::size_t(2)});
  const int prefer[n] = {0, 0, 1, 0, 0, 0};
  for (std::size_t t = 0; t < n; ++t) h(t, std::size_t(prefer[t])) = 1.0f + 0.1f * float(t);
  tensor<2> router = xt::zeros<float>({std::size_t(2), std::size_t(2)});
  router(0, 0) = router(1, 1) = 1.0f;

  SUBCASE("k = 1, cf 1: C = floor(1 · 1 · 6 / 2) = 3") {
    const auto r = moe::route(h, router, 1, 1.0f);
    CHECK(r.capacity == 3);
    CHECK(r.rows() == 6);  // E · C
    // expert 0 takes tokens 0, 1, 3; tokens 4 and 5 find it full
    CHECK(r.dropped() == 2);
    CHECK(r.row[4] == -1);
    CHECK(r.row[5] == -1);
    CHECK(r.load[0] == 3);
    CHECK(r.load[1] == 1);
    CHECK(r.row[3] == 2);  // third in expert 0's segment
    CHECK(r.row[2] == 3);  // first in expert 1's, which starts at C = 3
    // a dropped token's block output is zero: it passes through the residual
    std::vector<moe::expert> experts;
    rng gen(4);
    for (int e = 0; e < 2; ++e)
      experts.push_back({random_normal<2>({2, 3}, gen), random_normal<2>({3, 2}, gen)});
    moe::activations a;
    const tensor<2> y = moe::forward(h, router, experts, 1, 1.0f, a);
    for (std::size_t t : {4, 5})
      for (std::size_t c = 0; c < 2; ++c) CHECK(y(t, c) == 0.0f);
    CHECK(y(0, 0) != 0.0f);
  }
  SUBCASE("k = 2, cf 1: C = 6; first choices fill expert 0 first") {
    const auto r = moe::route(h, router, 2, 1.0f);
    CHECK(r.capacity == 6);
    CHECK(r.dropped() == 0);
  }
  SUBCASE("k = 2, cf 0.5: C = 3; second choices come after every first choice") {
    const auto r = moe::route(h, router, 2, 0.5f);
    CHECK(r.capacity == 3);
    // firsts: expert 0 gets tokens 0, 1, 3 (full: 4 and 5 dropped); expert 1 gets token 2.
    // seconds: token 0..5's second choices are 1 1 0 1 1 1: expert 1 takes tokens 0
    // and 1 (full at 3), the rest are dropped.
    CHECK(r.dropped() == 2 + 4);
    CHECK(r.row[0 * 2 + 1] == 4);  // token 0's second choice: expert 1, after token 2
    CHECK(r.row[1 * 2 + 1] == 5);
    CHECK(r.row[2 * 2 + 1] == -1);  // token 2's second choice, expert 0, is full
    // f counts choices before capacity: every token has both experts in its top 2
    CHECK(r.chosen() == std::vector<std::size_t>{6, 6});
  }
}

TEST_CASE("moe: the hand-written backward matches float64 finite differences") {
  struct setting {
    int E, k;
    float cf;
  };
  for (const setting s :
       {setting{4, 1, 0.0f}, setting{4, 2, 0.0f}, setting{4, 2, 0.75f}, setting{3, 3, 0.0f}}) {
    const int E = s.E, k = s.k;
    const float cf = s.cf;
    INFO("E = ", E, ", k = ", k, ", cf = ", cf);
    const std::size_t n = 10, d = 6, ff = 5;
    rng gen(11 + std::uint64_t(E * 10 + k));
    const auto h = random_normal<2>({n, d}, gen);
    const auto router = random_normal<2>({d, std::size_t(E)}, gen, 0.7f);
    std::vector<moe::expert> experts;
    for (int e = 0; e < E; ++e)
      experts.push_back(
          {random_normal<2>({d, ff}, gen, 0.6f), random_normal<2>({ff, d}, gen, 0.6f)});
    const auto dy = random_normal<2>({n, d}, gen);  // L = Σ y ∘ dy + α · aux
    const float alpha = 0.3f;

    moe::activations a;
    moe::forward(h, router, experts, k, cf, a);
    tensor<2> router_grad = xt::zeros<float>(router.shape());
    std::vector<moe::expert> grads;
    for (const auto& e : experts)
      grads.push_back({xt::zeros<float>(e.w1.shape()), xt::zeros<float>(e.w2.shape())});
    const tensor<2> dh = moe::backward(h, router, experts, a, dy, alpha, router_grad, grads);

    reference_block b{
        n, d, ff, std::size_t(E), std::size_t(k), cf, to_double(h), to_double(router), {}, {}};
    for (const auto& e : experts) b.w1.push_back(to_double(e.w1)), b.w2.push_back(to_double(e.w2));
    const auto loss = [&] {
      const reference_result r = reference(b);
      double l = alpha * r.aux;
      for (std::size_t i = 0; i < r.y.size(); ++i) l += r.y[i] * dy.data()[i];
      return l;
    };
    if (cf > 0) CHECK(moe::route(h, router, k, cf).dropped() > 0);  // the case drops some
    int checked = 0;
    const auto check = [&](std::vector<double>& x, const float* analytic) {
      for (std::size_t i = 0; i < x.size(); ++i) {
        const double keep = x[i], eps = 1e-6;
        x[i] = keep + eps;
        const double up = loss();
        x[i] = keep - eps;
        const double down = loss();
        x[i] = keep;
        const double numeric = (up - down) / (2 * eps);
        CHECK(std::abs(numeric - analytic[i]) <= 2e-5 + 1e-4 * std::abs(numeric));
        ++checked;
      }
    };
    check(b.h, dh.data());
    check(b.router, router_grad.data());
    for (int e = 0; e < E; ++e)
      check(b.w1[e], grads[e].w1.data()), check(b.w2[e], grads[e].w2.data());
    CHECK(checked == int(n * d + d * E + E * 2 * d * ff));
  }
}

TEST_CASE("moe: the whole model's gradient matches finite differences, balancing loss included") {
  gpt::config c = small_moe(4, 2, 0.0f);
  c.layers = 1, c.d_model = 16, c.d_ff = 12, c.max_seq = 32, c.aux_loss_coef = 0.5f;
  gpt::weights w = gpt::model(c, 8).params();
  rng gen(9);
  for (auto& l : w.layers) {
    for (float& x : l.router) x = 0.8f * gen.normal();
    for (auto& e : l.experts)
      for (auto* m : {&e.w1, &e.w2})
        for (float& x : *m) x = 0.3f * gen.normal();
  }
  const auto tokens = gpt::encode("mixture of experts");
  gpt::weights g = train::zeros_like(w);
  train::loss_and_gradient(c, w, tokens, g);
  const float eps = 1e-2f;
  auto numeric = [&](float& x) {
    const float keep = x;
    x = keep + eps;
    const double up = train::loss(c, w, tokens);
    x = keep - eps;
    const double down = train::loss(c, w, tokens);
    x = keep;
    return (up - down) / (2.0 * eps);
  };
  auto& l = w.layers[0];
  for (std::size_t i = 0; i < l.router.size(); i += 3) {
    const double n = numeric(l.router.data()[i]);
    CHECK(std::abs(n - g.layers[0].router.data()[i]) <= 5e-4 + 3e-2 * std::abs(n));
  }
  for (std::size_t e = 0; e < l.experts.size(); ++e)
    for (std::size_t i = 0; i < l.experts[e].w1.size(); i += 17) {
      const double n = numeric(l.experts[e].w1.data()[i]);
      CHECK(std::abs(n - g.layers[0].experts[e].w1.data()[i]) <= 5e-4 + 3e-2 * std::abs(n));
    }
}

TEST_CASE("moe: generation with a KV cache gives the uncached tokens") {
  const gpt::config c = small_moe(4, 2, 0.0f);  // no capacity: routing is per token
  const gpt::model m(c, 12);
  const auto prompt = gpt::encode("Route ");
  const auto cached = generate(m, prompt, 20, true);
  const auto uncached = generate(m, prompt, 20, false);
  CHECK(cached.tokens == uncached.tokens);
}

TEST_CASE("moe: every expert is resident; a token's active parameters are counted exactly") {
  const gpt::config c = small_moe(8, 2, 0.0f);
  memory::peak_scope scope;
  const gpt::model m(c, 1);
  const std::size_t d = 32, ff = 64, E = 8, k = 2, L = 2, q = 32, kv = 16;
  const std::size_t shared = 256 * d + 64 * d + d + L * (2 * d + d * q + 2 * d * kv + q * d);
  const std::size_t per_layer_experts = E * 2 * d * ff + d * E;  // experts + router
  CHECK(m.parameter_count() == shared + L * per_layer_experts);
  CHECK(m.active_parameter_count() == shared + L * (k * 2 * d * ff + d * E));
  // all E experts allocated: tracked bytes are 4 per parameter
  CHECK(memory::tracker().live_bytes() - scope.start_live_bytes() == 4 * m.parameter_count());
  CHECK(m.weight_bytes() == 4 * m.parameter_count());
  // a token's forward pass multiplies k experts' weights: the routing of one token
  rng gen(2);
  const tensor<2> h = random_normal<2>({1, d}, gen);
  const auto r = moe::route(h, m.params().layers[0].router, int(k), 0.0f);
  std::size_t used = 0;
  for (std::int32_t load : r.load) used += load > 0;
  CHECK(used == k);
}

TEST_CASE("moe: the routing's tracked bytes are its arrays, exactly") {
  const std::size_t n = 24, d = 8;
  rng gen(5);
  const auto h = random_normal<2>({n, d}, gen);
  struct setting {
    int E, k;
    float cf;
  };
  for (const setting s : {setting{4, 2, 0.0f}, setting{8, 1, 1.25f}}) {
    const int E = s.E, k = s.k;
    const float cf = s.cf;
    const auto router = random_normal<2>({d, std::size_t(E)}, gen);
    memory::peak_scope scope;
    const auto r = moe::route(h, router, k, cf);
    // probs [n, E] + choice, gate, row [n, k] + first [E + 1] + load [E], 4 bytes each
    CHECK(memory::tracker().live_bytes() - scope.start_live_bytes() ==
          4 * (n * E + 3 * n * k + 2 * E + 1));
    CHECK(r.rows() == moe::dispatch_rows(n, E, k, cf));
  }
  CHECK(moe::dispatch_rows(24, 8, 1, 1.25f) == 8 * 3);  // C = floor(1.25 · 24 / 8) = 3
}

TEST_CASE("moe: bad settings are named") {
  CHECK_THROWS_WITH_AS(gpt::model(small_moe(4, 5, 0), 1), "top_k = 5: expected in [1, experts = 4]",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(gpt::model(small_moe(-1, 1, 0), 1),
                       "experts = -1: expected 0 (a dense MLP) or a number of experts",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(gpt::model(small_moe(4, 1, -1.0f), 1),
                       "capacity_factor = -1: expected 0 (no capacity) or a positive number",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(gpt::model(small_moe(2, 1, 0), 1).to_bytes(),
                       "experts = 2: expected 0: a dense model (file version 1 holds no experts)",
                       invalid_argument);
}
