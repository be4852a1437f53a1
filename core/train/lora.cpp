#include "train/lora.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <tuple>
#include <type_traits>
#include <utility>
#include <xtensor/xmanipulation.hpp>

#include "base/dense.hpp"
#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"

namespace memlab::lora {
namespace {

// The linear weights of a layer, in quantized_ order: wq wk wv wo, then w1 w2
// (dense) or every expert's w1 w2 (MoE).
template <class Layer>
auto linear(Layer& l) {
  using matrix = std::conditional_t<std::is_const_v<Layer>, const tensor<2>, tensor<2>>;
  std::vector<matrix*> w{&l.wq, &l.wk, &l.wv, &l.wo};
  if (l.experts.empty()) w.push_back(&l.w1), w.push_back(&l.w2);
  for (auto& e : l.experts) w.push_back(&e.w1), w.push_back(&e.w2);
  return w;
}
std::array<adapter*, 4> adapted(layer_adapters& l) { return {&l.q, &l.k, &l.v, &l.o}; }
std::array<const adapter*, 4> adapted(const layer_adapters& l) { return {&l.q, &l.k, &l.v, &l.o}; }

std::size_t count(const std::vector<layer_adapters>& adapters) {
  std::size_t n = 0;
  for (const auto& l : adapters)
    for (const adapter* a : adapted(l)) n += a->a.size() + a->b.size();
  return n;
}

}  // namespace

model::model(const gpt::model& base, int rank, float alpha, bool quantized, std::uint32_t seed,
             train::adamw_options adam)
    : config_(base.cfg()), base_(base.params()), rank_(rank), adam_(adam) {
  require(base.weight_format() == nullptr, "base", "quantized", "an fp32 model");
  const int smallest = std::min(config_.d_model, config_.kv_heads * config_.head_dim());
  require(rank > 0 && rank <= smallest, "rank", rank, [&] {
    return "in [1, " + std::to_string(smallest) + "] (the smallest dimension of wq wk wv wo)";
  });
  require(std::isfinite(alpha), "alpha", alpha, "a finite number");
  // The base copied (QLoRA keeps NF4 instead, less), beside the caller's model;
  // adapters with gradients and AdamW moments, 4 of each.
  require_bytes(
      gpt::parameters(config_) * sizeof(float) * 2 +
          memlab::count(config_.layers) * 4 * 4 * rank * (2 * config_.d_model) * sizeof(float),
      {{"rank", rank}, {"layers", config_.layers}, {"d_model", config_.d_model}},
      "the base weights and the adapters");
  scale_ = alpha / float(rank);
  rng gen(seed);
  const std::size_t r = std::size_t(rank);
  for (auto& l : base_.layers) {
    layer_adapters la;
    const std::array<tensor<2>*, 4> w{&l.wq, &l.wk, &l.wv, &l.wo};
    auto targets = adapted(la);
    for (std::size_t i = 0; i < 4; ++i) {
      const std::size_t in = w[i]->shape(0), out = w[i]->shape(1);
      targets[i]->a = random_normal<2>({in, r}, gen, 1.0f / std::sqrt(float(in)));
      targets[i]->b = xt::zeros<float>({r, out});
    }
    adapters_.push_back(std::move(la));
  }
  if (quantized) {
    quant::format f;
    f.kind = quant::scheme::nf4_dq;
    // Blocks run along each row's input dimension: d_model, heads·head_dim or d_ff.
    f.block = std::gcd(nf4::default_block,
                       std::gcd(std::size_t(config_.d_model), std::size_t(config_.d_ff)));
    for (auto& l : base_.layers) {
      std::vector<quant::quantized_matrix> q;
      for (tensor<2>* w : linear(l)) {
        const tensor<2> out_by_in = xt::transpose(*w);
        q.push_back(quant::quantized_matrix::quantize(out_by_in, f));
        *w = tensor<2>();  // only the NF4 copy is kept
      }
      quantized_.push_back(std::move(q));
    }
  }
  auto zero = [](std::vector<layer_adapters> a) {
    for (auto& l : a)
      for (adapter* x : adapted(l)) x->a.fill(0), x->b.fill(0);
    return a;
  };
  m_ = zero(adapters_), v_ = zero(adapters_);
}

gpt::weights model::base_weights() const {
  gpt::weights w = base_;
  for (std::size_t l = 0; l < quantized_.size(); ++l) {
    auto targets = linear(w.layers[l]);
    for (std::size_t i = 0; i < targets.size(); ++i)
      *targets[i] = xt::transpose(quantized_[l][i].dequantize());
  }
  return w;
}

gpt::weights model::effective_weights() const {
  gpt::weights w = base_weights();
  for (std::size_t l = 0; l < w.layers.size(); ++l) {
    auto& lw = w.layers[l];
    const std::array<tensor<2>*, 4> targets{&lw.wq, &lw.wk, &lw.wv, &lw.wo};
    const auto ads = adapted(adapters_[l]);
    for (std::size_t i = 0; i < 4; ++i) {
      const tensor<2> ab = dense::matmul(ads[i]->a, ads[i]->b);
      *targets[i] += scale_ * ab;
    }
  }
  return w;
}

gpt::model model::merge() const { return gpt::model(config_, effective_weights()); }

double model::gradient(const std::vector<std::vector<int>>& sequences,
                       std::vector<layer_adapters>& grads) const {
  require(!sequences.empty(), "sequences", 0, "at least one");
  const gpt::weights w = effective_weights();
  gpt::weights g = train::zeros_like(w);
  double sum = 0;
  for (const auto& s : sequences)
    sum += train::loss_and_gradient(config_, w, s, g, 1.0f / float(sequences.size()));
  grads = adapters_;
  for (std::size_t l = 0; l < adapters_.size(); ++l) {
    const auto& lg = g.layers[l];
    const std::array<const tensor<2>*, 4> full{&lg.wq, &lg.wk, &lg.wv, &lg.wo};
    const auto ads = adapted(adapters_[l]);
    auto out = adapted(grads[l]);
    for (std::size_t i = 0; i < 4; ++i) {
      // dA = s · G · Bᵀ [in, r];  dB = s · Aᵀ · G [r, out]
      out[i]->a.fill(0), out[i]->b.fill(0);
      dense::add_a_bt(*full[i], ads[i]->b, out[i]->a);
      dense::add_at_b(ads[i]->a, *full[i], out[i]->b);
      out[i]->a *= scale_, out[i]->b *= scale_;
    }
  }
  return sum / double(sequences.size());
}

double model::train_step(const std::vector<std::vector<int>>& sequences) {
  std::vector<layer_adapters> grads;
  const double loss = gradient(sequences, grads);
  ++t_;
  for (std::size_t l = 0; l < adapters_.size(); ++l) {
    auto ads = adapted(adapters_[l]);
    const auto gs = adapted(std::as_const(grads[l]));
    auto ms = adapted(m_[l]);
    auto vs = adapted(v_[l]);
    for (std::size_t i = 0; i < 4; ++i)
      for (auto [p, g, m, v] : {std::tuple{&ads[i]->a, &gs[i]->a, &ms[i]->a, &vs[i]->a},
                                std::tuple{&ads[i]->b, &gs[i]->b, &ms[i]->b, &vs[i]->b}})
        train::adamw_update(p->data(), g->data(), m->data(), v->data(), p->size(), adam_, t_, true);
  }
  return loss;
}

memory_figures model::memory() const {
  memory_figures f;
  f.parameters = gpt::model(config_, 0).parameter_count();
  f.adapter_parameters = count(adapters_);
  f.full_finetune_bytes = 16 * f.parameters;
  f.trainable_state_bytes = 16 * f.adapter_parameters;
  std::size_t fp32 = 0;  // parameters stored fp32 in base_ (QLoRA: all but the linear weights)
  const gpt::weights& b = base_;
  fp32 +=
      b.token_embedding.size() + b.position_embedding.size() + b.norm_f.size() + b.lm_head.size();
  for (auto& l : b.layers) {
    fp32 += l.norm1.size() + l.norm2.size() + l.router.size();
    for (const tensor<2>* w : linear(l)) fp32 += w->size();
  }
  f.base_bytes = 4 * fp32;
  for (const auto& l : quantized_)
    for (const auto& q : l) f.base_bytes += q.bytes();
  return f;
}

}  // namespace memlab::lora
