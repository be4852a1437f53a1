#include "model/moe.hpp"

#include <algorithm>
#include <cmath>

#include "base/dense.hpp"
#include "base/error.hpp"
#include "base/kernels.hpp"

namespace memlab::moe {
namespace {

std::size_t u(std::int32_t x) { return static_cast<std::size_t>(x); }

// Calls f(t, rank, expert, row) for every kept assignment.
template <class F>
void for_each_kept(const routing& r, F&& f) {
  for (std::size_t t = 0; t < r.tokens; ++t)
    for (std::size_t i = 0; i < r.top_k; ++i) {
      const std::size_t a = t * r.top_k + i;
      if (r.row[a] >= 0) f(t, a, u(r.choice[a]), u(r.row[a]));
    }
}

}  // namespace

void check(int experts, int top_k, float capacity_factor) {
  require(experts >= 1, "experts", experts, "at least 1 (0 is the dense MLP)");
  require(top_k >= 1 && top_k <= experts, "top_k", top_k,
          [&] { return "in [1, " + named("experts", experts) + "]"; });
  require(std::isfinite(capacity_factor) && capacity_factor >= 0.0f, "capacity_factor",
          capacity_factor, "0 (no capacity) or a positive number");
}

std::size_t capacity(std::size_t tokens, int experts, int top_k, float capacity_factor) {
  check(experts, top_k, capacity_factor);
  if (capacity_factor == 0.0f) return 0;
  const double c = std::floor(double(capacity_factor) * top_k * double(tokens) / experts);
  return std::max<std::size_t>(1, static_cast<std::size_t>(c));
}

std::size_t dispatch_rows(std::size_t tokens, int experts, int top_k, float capacity_factor) {
  const std::size_t c = capacity(tokens, experts, top_k, capacity_factor);
  return c ? std::size_t(experts) * c : tokens * std::size_t(top_k);
}

std::size_t routing::dropped() const { return std::size_t(std::count(row.begin(), row.end(), -1)); }

std::vector<std::size_t> routing::chosen() const {
  std::vector<std::size_t> n(experts, 0);
  for (std::int32_t e : choice) ++n[u(e)];
  return n;
}

routing route(const tensor<2>& h, const tensor<2>& router, int top_k, float capacity_factor) {
  const std::size_t n = h.shape(0), d = h.shape(1), E = router.shape(1);
  require(router.shape(0) == d, "router rows", router.shape(0),
          [&] { return named("d_model", d); });
  check(int(E), top_k, capacity_factor);
  routing r;
  r.tokens = n, r.experts = E, r.top_k = std::size_t(top_k);
  r.capacity = capacity(n, int(E), top_k, capacity_factor);
  const std::size_t k = r.top_k;

  // -- probabilities: softmax of the router logits, row by row ----
  r.probs = xt::zeros<float>({n, E});
  kernels::matmul_accumulate(h.data(), n, d, router.data(), E, r.probs.data());
  for (std::size_t t = 0; t < n; ++t) {
    float* p = r.probs.data() + t * E;
    const float max = *std::max_element(p, p + E);
    float sum = 0;
    for (std::size_t e = 0; e < E; ++e) sum += (p[e] = std::exp(p[e] - max));
    for (std::size_t e = 0; e < E; ++e) p[e] /= sum;
  }

  // -- top k of each token and its gates ----
  r.choice.assign(n * k, 0), r.gate.assign(n * k, 0.0f), r.row.assign(n * k, -1);
  for (std::size_t t = 0; t < n; ++t) {
    const float* p = r.probs.data() + t * E;
    std::int32_t* c = r.choice.data() + t * k;
    float sum = 0;
    for (std::size_t i = 0; i < k; ++i) {
      std::int32_t best = -1;
      for (std::size_t e = 0; e < E; ++e) {
        if (std::find(c, c + i, std::int32_t(e)) != c + i) continue;  // taken by a better rank
        if (best < 0 || p[e] > p[best]) best = std::int32_t(e);       // ties: lower index
      }
      c[i] = best;
      sum += p[best];
    }
    for (std::size_t i = 0; i < k; ++i) r.gate[t * k + i] = k == 1 ? p[c[0]] : p[c[i]] / sum;
  }

  // -- dispatch rows: by rank, then by token, up to the capacity ----
  r.load.assign(E, 0), r.first.assign(E + 1, 0);
  if (r.capacity) {
    for (std::size_t e = 0; e <= E; ++e) r.first[e] = std::int32_t(e * r.capacity);
  } else {  // packed segments: count first
    for (std::int32_t e : r.choice) ++r.load[u(e)];
    for (std::size_t e = 0; e < E; ++e) r.first[e + 1] = r.first[e] + r.load[e];
    std::fill(r.load.begin(), r.load.end(), 0);
  }
  for (std::size_t i = 0; i < k; ++i)
    for (std::size_t t = 0; t < n; ++t) {
      const std::size_t a = t * k + i, e = u(r.choice[a]);
      if (r.capacity && u(r.load[e]) == r.capacity) continue;  // full: dropped
      r.row[a] = r.first[e] + r.load[e]++;
    }

  // -- load-balancing loss: E · Σ f_e · P_e ----
  const auto chosen = r.chosen();
  double aux = 0;
  for (std::size_t e = 0; e < E; ++e) {
    double mean_p = 0;
    for (std::size_t t = 0; t < n; ++t) mean_p += r.probs(t, e);
    aux += double(chosen[e]) / double(n) * (mean_p / double(n));
  }
  r.aux_loss = double(E) * aux;
  return r;
}

tensor<2> dispatch(const tensor<2>& h, const routing& r) {
  const std::size_t d = h.shape(1);
  tensor<2> in = xt::zeros<float>({r.rows(), d});
  for_each_kept(r, [&](std::size_t t, std::size_t, std::size_t, std::size_t row) {
    std::copy_n(h.data() + t * d, d, in.data() + row * d);
  });
  return in;
}

tensor<2> combine(const tensor<2>& out, const routing& r) {
  const std::size_t d = out.shape(1);
  tensor<2> y = xt::zeros<float>({r.tokens, d});
  for_each_kept(r, [&](std::size_t t, std::size_t a, std::size_t, std::size_t row) {
    kernels::axpy(y.data() + t * d, r.gate[a], out.data() + row * d, d);
  });
  return y;
}

tensor<2> forward(const tensor<2>& h, const tensor<2>& router, const std::vector<expert>& experts,
                  int top_k, float capacity_factor, activations& a) {
  require(experts.size() == router.shape(1), "experts", experts.size(),
          [&] { return "one per router column (" + std::to_string(router.shape(1)) + ")"; });
  a.route = route(h, router, top_k, capacity_factor);
  const routing& r = a.route;
  const std::size_t d = h.shape(1), ff = experts.front().w1.shape(1), R = r.rows();
  const tensor<2> in = dispatch(h, r);
  // pre = in · W1 and out = gelu(pre) · W2, each expert on its own segment of rows
  a.pre = xt::zeros<float>({R, ff});
  for (std::size_t e = 0; e < experts.size(); ++e)
    dense::add_a_b(in.data() + u(r.first[e]) * d, u(r.load[e]), d, experts[e].w1.data(), ff,
                   a.pre.data() + u(r.first[e]) * ff);
  tensor<2> gl = a.pre;
  for (float& v : gl) v = dense::gelu(v);
  tensor<2> out = xt::zeros<float>({R, d});
  for (std::size_t e = 0; e < experts.size(); ++e)
    dense::add_a_b(gl.data() + u(r.first[e]) * ff, u(r.load[e]), ff, experts[e].w2.data(), d,
                   out.data() + u(r.first[e]) * d);
  return combine(out, r);
}

tensor<2> backward(const tensor<2>& h, const tensor<2>& router, const std::vector<expert>& experts,
                   const activations& a, const tensor<2>& dy, float aux_scale,
                   tensor<2>& router_grad, std::vector<expert>& expert_grads) {
  const routing& r = a.route;
  const std::size_t n = r.tokens, k = r.top_k, E = r.experts, d = h.shape(1), ff = a.pre.shape(1),
                    R = r.rows();
  const auto segment = [&](std::size_t e) { return u(r.first[e]); };

  // -- the experts: y_t = Σ g · gelu(in W1) W2 over t's kept assignments ----
  const tensor<2> in = dispatch(h, r);
  tensor<2> gl = a.pre;
  for (float& v : gl) v = dense::gelu(v);
  tensor<2> dyr = xt::zeros<float>({R, d});  // dy of each assignment's token
  for_each_kept(r, [&](std::size_t t, std::size_t, std::size_t, std::size_t row) {
    std::copy_n(dy.data() + t * d, d, dyr.data() + row * d);
  });
  tensor<2> dgl = xt::zeros<float>({R, ff});  // first dy · W2ᵀ, then times the gate
  for (std::size_t e = 0; e < E; ++e)
    dense::add_a_bt(dyr.data() + segment(e) * d, u(r.load[e]), d, experts[e].w2.data(), ff,
                    dgl.data() + segment(e) * ff);
  buffer<float> dgate(n * k, 0.0f);  // dL/dg = dy · out = gelu(pre) · (dy · W2ᵀ)
  for_each_kept(r, [&](std::size_t, std::size_t i, std::size_t, std::size_t row) {
    dgate[i] = kernels::dot(gl.data() + row * ff, dgl.data() + row * ff, ff);
    for (std::size_t c = 0; c < d; ++c) dyr(row, c) *= r.gate[i];
    for (std::size_t c = 0; c < ff; ++c) dgl(row, c) *= r.gate[i];
  });
  for (std::size_t e = 0; e < E; ++e)  // dW2 += gelu(pre)ᵀ · (g dy)
    dense::add_at_b(gl.data() + segment(e) * ff, u(r.load[e]), ff, dyr.data() + segment(e) * d, d,
                    expert_grads[e].w2.data());
  for (std::size_t i = 0; i < dgl.size(); ++i) dgl.data()[i] *= dense::gelu_grad(a.pre.data()[i]);
  const tensor<2>& dpre = dgl;
  tensor<2> din = xt::zeros<float>({R, d});
  for (std::size_t e = 0; e < E; ++e) {
    dense::add_at_b(in.data() + segment(e) * d, u(r.load[e]), d, dpre.data() + segment(e) * ff, ff,
                    expert_grads[e].w1.data());
    dense::add_a_bt(dpre.data() + segment(e) * ff, u(r.load[e]), ff, experts[e].w1.data(), d,
                    din.data() + segment(e) * d);
  }
  tensor<2> dh = xt::zeros<float>({n, d});
  for_each_kept(r, [&](std::size_t t, std::size_t, std::size_t, std::size_t row) {
    for (std::size_t c = 0; c < d; ++c) dh(t, c) += din(row, c);
  });

  // -- the router: gates (renormalised when k >= 2), the balancing loss, softmax ----
  tensor<2> dz = xt::zeros<float>({n, E});
  const auto chosen = r.chosen();
  for (std::size_t t = 0; t < n; ++t) {
    const float* p = r.probs.data() + t * E;
    float* dp = dz.data() + t * E;
    const std::int32_t* c = r.choice.data() + t * k;
    const float* g = r.gate.data() + t * k;
    const float* dg = dgate.data() + t * k;
    if (k == 1) {
      dp[c[0]] = dg[0];
    } else {  // g_e = p_e / S: dp_j = (dg_j - Σ_e dg_e g_e) / S for j in the top k
      float sum = 0, weighted = 0;
      for (std::size_t i = 0; i < k; ++i) sum += p[c[i]], weighted += dg[i] * g[i];
      for (std::size_t i = 0; i < k; ++i) dp[c[i]] = (dg[i] - weighted) / sum;
    }
    for (std::size_t e = 0; e < E; ++e)  // d aux / d p_t,e = E · f_e / n
      dp[e] += aux_scale * float(E) * float(chosen[e]) / float(n) / float(n);
    float s = 0;  // softmax: dz_e = p_e (dp_e - Σ_j p_j dp_j)
    for (std::size_t e = 0; e < E; ++e) s += p[e] * dp[e];
    for (std::size_t e = 0; e < E; ++e) dp[e] = p[e] * (dp[e] - s);
  }
  dense::add_at_b(h.data(), n, d, dz.data(), E, router_grad.data());
  dense::add_a_bt(dz.data(), n, E, router.data(), d, dh.data());
  return dh;
}

}  // namespace memlab::moe
