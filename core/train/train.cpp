#include "train/train.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "attention/attention.hpp"
#include "attention/flash_backward.hpp"
#include "base/dense.hpp"
#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"
#include "model/moe.hpp"

namespace memlab::train {
namespace {

using dense::add_a_bt;
using dense::add_at_b;
using dense::matmul;

constexpr float norm_eps = 1e-5f;  // as gpt.cpp
std::size_t u(int x) { return static_cast<std::size_t>(x); }

// Every weight tensor as (data, size, is a matrix), in a fixed order.
struct slot {
  float* data;
  std::size_t size;
  bool matrix;
};
template <class W>
std::vector<slot> slots(W& w) {
  std::vector<slot> s;
  auto add = [&](auto& t) {
    s.push_back({const_cast<float*>(t.data()), t.size(), t.dimension() == 2});
  };
  add(w.token_embedding), add(w.position_embedding);
  for (auto& l : w.layers) {
    add(l.norm1), add(l.wq), add(l.wk), add(l.wv), add(l.wo), add(l.norm2);
    if (l.experts.empty()) add(l.w1), add(l.w2);
    if (!l.experts.empty()) add(l.router);
    for (auto& e : l.experts) add(e.w1), add(e.w2);
  }
  add(w.norm_f);
  if (w.lm_head.size()) add(w.lm_head);
  return s;
}

// y = x / rms(x) · gain; inv[i] = 1 / sqrt(mean(x_i²) + eps) is kept for backward.
tensor<2> rms_norm(const tensor<2>& x, const tensor<1>& gain, tensor<1>& inv) {
  const std::size_t n = x.shape(0), d = x.shape(1);
  inv = tensor<1>::from_shape({n});
  auto y = tensor<2>::from_shape({n, d});
  for (std::size_t i = 0; i < n; ++i) {
    float ss = 0;
    for (std::size_t c = 0; c < d; ++c) ss += x(i, c) * x(i, c);
    inv(i) = 1.0f / std::sqrt(ss / float(d) + norm_eps);
    for (std::size_t c = 0; c < d; ++c) y(i, c) = x(i, c) * inv(i) * gain(c);
  }
  return y;
}

// dx += d rms_norm / dx · dy; dgain += Σ_i dy · x · inv.
void rms_norm_backward(const tensor<2>& x, const tensor<1>& gain, const tensor<1>& inv,
                       const tensor<2>& dy, tensor<2>& dx, tensor<1>& dgain) {
  const std::size_t n = x.shape(0), d = x.shape(1);
  for (std::size_t i = 0; i < n; ++i) {
    float dot = 0;  // Σ_c dy·gain·x
    for (std::size_t c = 0; c < d; ++c) {
      dot += dy(i, c) * gain(c) * x(i, c);
      dgain(c) += dy(i, c) * x(i, c) * inv(i);
    }
    const float k = inv(i) * inv(i) * inv(i) * dot / float(d);
    for (std::size_t c = 0; c < d; ++c) dx(i, c) += dy(i, c) * gain(c) * inv(i) - x(i, c) * k;
  }
}

// [T, n · hd] (the heads side by side, as the projections give them) as
// [n, T, hd] (a head's rows together, as attention takes them), and back.
tensor<3> split_heads(const tensor<2>& x, std::size_t n) {
  const std::size_t T = x.shape(0), hd = x.shape(1) / n;
  auto out = tensor<3>::from_shape({n, T, hd});
  for (std::size_t h = 0; h < n; ++h)
    for (std::size_t i = 0; i < T; ++i) std::copy_n(&x(i, h * hd), hd, &out(h, i, 0));
  return out;
}

tensor<2> merge_heads(const tensor<3>& x) {
  const std::size_t n = x.shape(0), T = x.shape(1), hd = x.shape(2);
  auto out = tensor<2>::from_shape({T, n * hd});
  for (std::size_t h = 0; h < n; ++h)
    for (std::size_t i = 0; i < T; ++i) std::copy_n(&x(h, i, 0), hd, &out(i, h * hd));
  return out;
}

// Causal attention's tiles in training (T <= max_seq): the inference default.
const attention::flash_options attention_tiles{true, attention_tile, attention_tile};

struct layer_acts {
  tensor<2> x, h1, x_mid, h2, pre;  // pre: dense MLP only
  tensor<1> inv1, inv2;
  tensor<3> q, k, v;     // [heads or kv_heads, T, head_dim]
  tensor<3> out;         // [heads, T, head_dim] attention's output
  tensor<2> lse;         // flash: [heads, T] the logsumexp of each query row
  tensor<3> p;           // naive: [heads, T, T] attention probabilities (0 above the diagonal)
  moe::activations moe;  // MoE layers: routing and the experts' pre-activations
};

struct acts {
  std::vector<layer_acts> layers;
  tensor<2> x_final, hf, probs;  // probs: softmax of logits [T, vocab]
  tensor<1> invf;
  double aux_loss = 0;  // Σ over layers of the MoE load-balancing loss
};

// The load-balancing loss's weight per layer: aux_loss_coef · mean over layers.
float aux_weight(const gpt::config& c) { return c.aux_loss_coef / float(c.layers); }

// One decoder layer on x [T, d] in place, keeping what its backward needs in a.
void layer_forward(const gpt::config& c, const gpt::layer_weights& lw, tensor<2>& x, layer_acts& a,
                   attention_kernel kernel) {
  a.x = x;
  a.h1 = rms_norm(x, lw.norm1, a.inv1);
  a.q = split_heads(matmul(a.h1, lw.wq), u(c.heads));
  a.k = split_heads(matmul(a.h1, lw.wk), u(c.kv_heads));
  a.v = split_heads(matmul(a.h1, lw.wv), u(c.kv_heads));
  if (kernel == attention_kernel::flash) {
    attention::flash_options keep_lse = attention_tiles;
    keep_lse.logsumexp = &a.lse;
    a.out = attention::flash(a.q, a.k, a.v, keep_lse);
  } else {
    a.out = attention::naive(a.q, a.k, a.v, true, &a.p);
  }
  x += matmul(merge_heads(a.out), lw.wo);
  a.x_mid = x;
  a.h2 = rms_norm(x, lw.norm2, a.inv2);
  if (c.experts) {
    x += moe::forward(a.h2, lw.router, lw.experts, c.top_k, c.capacity_factor, a.moe);
    return;
  }
  a.pre = matmul(a.h2, lw.w1);
  tensor<2> gl = a.pre;
  for (float& v : gl) v = dense::gelu(v);
  x += matmul(gl, lw.w2);
}

// Forward keeping every layer's activations, or with checkpoints (sorted, from
// 0) only the inputs of the checkpoint layers before the last segment; returns
// the mean cross-entropy.
double forward(const gpt::config& c, const gpt::weights& w, const std::vector<int>& tokens, acts& s,
               attention_kernel kernel, const std::vector<int>* checkpoints = nullptr) {
  require(tokens.size() >= 2, "tokens", tokens.size(), "at least 2 (inputs and a next token)");
  const std::size_t T = tokens.size() - 1, d = u(c.d_model);
  require(T <= u(c.max_seq), "tokens", tokens.size(),
          [&] { return "at most max_seq + 1 = " + std::to_string(c.max_seq + 1); });
  for (int t : tokens) require(t >= 0 && t < gpt::vocab, "token", t, "a byte value in [0, 256)");

  tensor<2> x = tensor<2>::from_shape({T, d});
  for (std::size_t i = 0; i < T; ++i)
    for (std::size_t j = 0; j < d; ++j)
      x(i, j) = w.token_embedding(u(tokens[i]), j) + w.position_embedding(i, j);
  s.layers.assign(w.layers.size(), {});
  const int last_start = checkpoints ? checkpoints->back() : 0;
  for (std::size_t l = 0; l < w.layers.size(); ++l) {
    auto& a = s.layers[l];
    layer_forward(c, w.layers[l], x, a, kernel);
    if (c.experts) s.aux_loss += a.moe.route.aux_loss;
    if (int(l) < last_start) {  // checkpointed: keep the input of a checkpoint only
      const bool keep = std::binary_search(checkpoints->begin(), checkpoints->end(), int(l));
      tensor<2> input = std::move(a.x);
      a = layer_acts{};
      if (keep) a.x = std::move(input);
    }
  }
  s.x_final = x;
  s.hf = rms_norm(x, w.norm_f, s.invf);
  s.probs =
      c.tied ? tensor<2>(xt::zeros<float>({T, std::size_t(gpt::vocab)})) : matmul(s.hf, w.lm_head);
  if (c.tied) add_a_bt(s.hf, w.token_embedding, s.probs);
  double total = 0;
  for (std::size_t i = 0; i < T; ++i) {
    float* row = &s.probs(i, 0);
    const float max = *std::max_element(row, row + gpt::vocab);
    double sum = 0;
    for (int t = 0; t < gpt::vocab; ++t) sum += (row[t] = std::exp(row[t] - max));
    for (int t = 0; t < gpt::vocab; ++t) row[t] = float(row[t] / sum);
    total -= std::log(std::max(double(row[tokens[i + 1]]), 1e-30));
  }
  return total / double(T) + double(aux_weight(c)) * s.aux_loss;
}

}  // namespace

gpt::weights zeros_like(const gpt::weights& w) {
  gpt::weights z = w;
  for (auto& s : slots(z)) std::fill_n(s.data, s.size, 0.0f);
  return z;
}

double loss(const gpt::config& c, const gpt::weights& w, const std::vector<int>& tokens) {
  acts s;
  return forward(c, w, tokens, s, attention_kernel::flash);
}

double loss_and_gradient(const gpt::config& c, const gpt::weights& w,
                         const std::vector<int>& tokens, gpt::weights& g, float scale) {
  return loss_and_gradient(c, w, tokens, g, scale, checkpoint::policy::none(), nullptr,
                           attention_kernel::flash);
}

double loss_and_gradient(const gpt::config& c, const gpt::weights& w,
                         const std::vector<int>& tokens, gpt::weights& g, float scale,
                         const checkpoint::policy& policy, checkpoint_figures* figures,
                         attention_kernel kernel) {
  const auto checkpoints = checkpoint::checkpoints(policy, c.layers);
  memory::peak_scope scope;
  int recomputed = 0;
  acts s;
  const double result = forward(c, w, tokens, s, kernel, &checkpoints);
  const std::size_t T = tokens.size() - 1, d = u(c.d_model);

  // d loss / d logits = (softmax − onehot) · scale / T
  tensor<2> dlogits = s.probs;
  for (std::size_t i = 0; i < T; ++i) dlogits(i, u(tokens[i + 1])) -= 1.0f;
  dlogits *= scale / float(T);
  tensor<2> dhf;
  if (c.tied) {
    add_at_b(dlogits, s.hf, g.token_embedding);  // dE += dlogitsᵀ · hf
    dhf = matmul(dlogits, w.token_embedding);
  } else {
    add_at_b(s.hf, dlogits, g.lm_head);
    dhf = xt::zeros<float>({T, d});
    add_a_bt(dlogits, w.lm_head, dhf);
  }
  tensor<2> dx = xt::zeros<float>({T, d});
  rms_norm_backward(s.x_final, w.norm_f, s.invf, dhf, dx, g.norm_f);

  for (std::size_t l = w.layers.size(); l-- > 0;) {
    if (s.layers[l].h1.size() == 0) {  // checkpointed: re-run the segment from its checkpoint
      const auto at = std::upper_bound(checkpoints.begin(), checkpoints.end(), int(l));
      const std::size_t begin = std::size_t(*(at - 1));
      tensor<2> x = s.layers[begin].x;
      for (std::size_t i = begin; i <= l; ++i, ++recomputed)
        layer_forward(c, w.layers[i], x, s.layers[i], kernel);
    }
    const auto& lw = w.layers[l];
    auto& lg = g.layers[l];
    const auto& a = s.layers[l];
    if (c.experts) {  // MoE: x_out = x_mid + moe(h2)
      const tensor<2> dh2 = moe::backward(a.h2, lw.router, lw.experts, a.moe, dx,
                                          scale * aux_weight(c), lg.router, lg.experts);
      rms_norm_backward(a.x_mid, lw.norm2, a.inv2, dh2, dx, lg.norm2);  // dx is now d x_mid
    } else {  // MLP: x_out = x_mid + gelu(h2 W1) W2
      tensor<2> gl = a.pre;
      for (float& v : gl) v = dense::gelu(v);
      add_at_b(gl, dx, lg.w2);
      tensor<2> dpre = xt::zeros<float>(a.pre.shape());
      add_a_bt(dx, lw.w2, dpre);
      for (std::size_t i = 0; i < dpre.size(); ++i)
        dpre.data()[i] *= dense::gelu_grad(a.pre.data()[i]);
      add_at_b(a.h2, dpre, lg.w1);
      tensor<2> dh2 = xt::zeros<float>({T, d});
      add_a_bt(dpre, lw.w1, dh2);
      rms_norm_backward(a.x_mid, lw.norm2, a.inv2, dh2, dx, lg.norm2);  // dx is now d x_mid
    }
    // Attention: x_mid = x + merge(attention(q, k, v)) Wo
    {
      const tensor<2> merged = merge_heads(a.out);
      add_at_b(merged, dx, lg.wo);
    }
    tensor<2> da = xt::zeros<float>({T, a.out.shape(0) * a.out.shape(2)});
    add_a_bt(dx, lw.wo, da);
    const tensor<3> dout = split_heads(da, a.out.shape(0));
    const attention::gradients ag =
        kernel == attention_kernel::flash
            ? attention::flash_backward(a.q, a.k, a.v, a.out, a.lse, dout, attention_tiles)
            : attention::naive_backward(a.q, a.k, a.v, a.p, dout);
    const tensor<2> dq = merge_heads(ag.dq), dk = merge_heads(ag.dk), dv = merge_heads(ag.dv);
    add_at_b(a.h1, dq, lg.wq), add_at_b(a.h1, dk, lg.wk), add_at_b(a.h1, dv, lg.wv);
    tensor<2> dh1 = xt::zeros<float>({T, d});
    add_a_bt(dq, lw.wq, dh1), add_a_bt(dk, lw.wk, dh1), add_a_bt(dv, lw.wv, dh1);
    rms_norm_backward(a.x, lw.norm1, a.inv1, dh1, dx, lg.norm1);  // dx is now d x (layer input)
    s.layers[l] = layer_acts{};
  }
  for (std::size_t i = 0; i < T; ++i)
    for (std::size_t j = 0; j < d; ++j) {
      g.token_embedding(u(tokens[i]), j) += dx(i, j);
      g.position_embedding(i, j) += dx(i, j);
    }
  if (figures) figures->peak_bytes = scope.peak_bytes(), figures->recomputed_layers = recomputed;
  return result;
}

void check(const adamw_options& o) {
  require(std::isfinite(o.lr) && o.lr > 0, "lr", o.lr, "a positive finite learning rate");
  require(o.beta1 >= 0 && o.beta1 < 1, "beta1", o.beta1, "in [0, 1)");
  require(o.beta2 >= 0 && o.beta2 < 1, "beta2", o.beta2, "in [0, 1)");
  require(std::isfinite(o.eps) && o.eps > 0, "eps", o.eps, "a positive finite number");
  require(std::isfinite(o.weight_decay) && o.weight_decay >= 0, "weight_decay", o.weight_decay,
          "0 or a positive finite number");
}

adamw::adamw(const gpt::weights& w, adamw_options o)
    : o_((check(o), o)), m_(zeros_like(w)), v_(zeros_like(w)) {}

std::size_t adamw::state_bytes() const {
  std::size_t n = 0;
  for (const auto& s : slots(m_)) n += s.size;
  return 2 * n * sizeof(float);
}

void adamw_update(float* p, const float* g, float* m, float* v, std::size_t n,
                  const adamw_options& o, int t, bool decay) {
  const float c1 = 1.0f - std::pow(o.beta1, float(t)), c2 = 1.0f - std::pow(o.beta2, float(t));
  const float wd = decay ? o.weight_decay : 0.0f;
  for (std::size_t i = 0; i < n; ++i) {
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
    p[i] -= o.lr * ((m[i] / c1) / (std::sqrt(v[i] / c2) + o.eps) + wd * p[i]);
  }
}

void adamw::step(gpt::weights& w, const gpt::weights& grads) {
  ++t_;
  const auto ws = slots(w), gs = slots(grads), ms = slots(m_), vs = slots(v_);
  for (std::size_t k = 0; k < ws.size(); ++k)
    adamw_update(ws[k].data, gs[k].data, ms[k].data, vs[k].data, ws[k].size, o_, t_, ws[k].matrix);
}

result run(const std::string& text, const options& o,
           const std::function<void(int, double)>& progress) {
  gpt::check(o.model);
  const auto steps = require_positive(o.steps, "steps");
  const auto batch = require_positive(o.batch, "batch");
  const auto seq = require_positive(o.seq, "seq");
  require(o.seq <= o.model.max_seq, "seq", o.seq,
          [&] { return "at most " + named("max_seq", o.model.max_seq); });
  require(text.size() > seq + 1, "text", text.size(),
          [&] { return "more than seq + 1 = " + std::to_string(seq + 1) + " bytes"; });
  check(o.adam);
  // Held at once: the weights four times (weights, gradients, AdamW's m and v)
  // and twice more (the result's models), the text as tokens, and one
  // sequence's activations (forward_bytes for seq tokens in every layer, and the
  // attention probabilities [heads, seq, seq] per layer, kept for the backward).
  // Work: a step runs batch sequences forward and backward (3 forward passes,
  // naive attention) and evaluation 8 more forward passes.
  const gpt::config& c = o.model;
  const std::initializer_list<sized> sizes{
      {"steps", o.steps},     {"batch", o.batch}, {"seq", o.seq},        {"layers", c.layers},
      {"d_model", c.d_model}, {"d_ff", c.d_ff},   {"max_seq", c.max_seq}};
  require_bytes(gpt::parameters(c) * sizeof(float) * 6 + count(text.size()) * 5 +
                    count(c.layers) * gpt::forward_bytes(c, seq + 1) +
                    count(c.layers) * c.heads * 2 * (seq + 1) * (seq + 1) * sizeof(float),
                sizes, "weights, optimizer state and one sequence's activations");
  // (Training's attention is naive: every pair of the seq x seq square.)
  const double pass = gpt::forward_flops(c, double(seq), double(seq) / 2, double(seq));
  require_work((3.0 * double(steps) * double(batch) + 8) * pass, sizes, "the training steps");
  const auto start = std::chrono::steady_clock::now();
  gpt::weights w = gpt::model(o.model, o.seed).params();
  gpt::weights g = zeros_like(w);
  adamw opt(w, o.adam);
  rng gen(o.seed + 1000);
  const std::vector<int> all = gpt::encode(text);
  auto window = [&](std::size_t at) {
    return std::vector<int>(all.begin() + long(at), all.begin() + long(at + seq + 1));
  };
  auto eval = [&] {  // four fixed windows spread over the text
    double sum = 0;
    for (std::size_t k = 0; k < 4; ++k)
      sum += loss(o.model, w, window(k * (all.size() - seq - 1) / 4));
    return sum / 4;
  };
  result r{gpt::model(o.model, o.seed), {}, eval(), 0, 0};
  for (std::size_t step = 0; step < steps; ++step) {
    for (auto& s : slots(g)) std::fill_n(s.data, s.size, 0.0f);
    double sum = 0;
    for (std::size_t b = 0; b < batch; ++b) {
      const std::size_t at = std::size_t(gen.next_u64() % (all.size() - seq - 1));
      sum += loss_and_gradient(o.model, w, window(at), g, 1.0f / float(batch));
    }
    opt.step(w, g);
    // A rate that blows the weights up (lr 1e9) is refused here, naming lr, and not
    // later by attention's check of its inputs ("q[0] = nan") on the next pass.
    const auto ws = slots(w);
    const bool finite =
        std::isfinite(sum) && std::all_of(ws.begin(), ws.end(), [](const slot& s) {
          return std::all_of(s.data, s.data + s.size, [](float x) { return std::isfinite(x); });
        });
    require(finite, "lr", o.adam.lr, [&] {
      return "a learning rate at which training stays finite (loss or weights overflowed at step " +
             std::to_string(step + 1) + ")";
    });
    r.losses.push_back(sum / double(batch));
    if (progress) progress(int(step) + 1, r.losses.back());
  }
  r.final_eval_loss = eval();
  r.model = gpt::model(o.model, std::move(w));
  r.ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return r;
}

}  // namespace memlab::train
