#include "train/lora.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "base/error.hpp"
#include "base/random.hpp"

using namespace memlab;

namespace {

gpt::config small() {
  gpt::config c;
  c.layers = 2;
  c.d_model = 16;
  c.heads = 4;
  c.kv_heads = 2;
  c.d_ff = 32;
  c.max_seq = 24;
  return c;
}

bool same(const gpt::weights& a, const gpt::weights& b) {
  auto eq = [](const auto& x, const auto& y) {
    return x.shape() == y.shape() && std::equal(x.begin(), x.end(), y.begin());
  };
  bool ok = eq(a.token_embedding, b.token_embedding) &&
            eq(a.position_embedding, b.position_embedding) && eq(a.norm_f, b.norm_f);
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    const auto &x = a.layers[l], &y = b.layers[l];
    ok = ok && eq(x.wq, y.wq) && eq(x.wk, y.wk) && eq(x.wv, y.wv) && eq(x.wo, y.wo) &&
         eq(x.w1, y.w1) && eq(x.w2, y.w2) && eq(x.norm1, y.norm1) && eq(x.norm2, y.norm2);
  }
  return ok;
}

std::vector<std::vector<int>> batch(const std::string& text, std::size_t seq) {
  const auto all = gpt::encode(text);
  std::vector<std::vector<int>> out;
  for (std::size_t at = 0; at + seq + 1 <= all.size(); at += seq)
    out.emplace_back(all.begin() + long(at), all.begin() + long(at + seq + 1));
  return out;
}

const std::string text = "the cat sat on the mat. the dog sat on the log. the cat and the dog. ";

// A base that has learnt something (LoRA over random weights has little to steer).
gpt::model pretrained() {
  train::options o;
  o.model = small();
  o.steps = 30, o.batch = 4, o.seq = 16, o.adam.lr = 1e-2f;
  return train::run(text + text, o).model;
}

}  // namespace

TEST_CASE("LoRA: training moves only the adapters; the loss falls; merge gives the same outputs") {
  for (bool quantized : {false, true}) {
    CAPTURE(quantized);
    const gpt::model base = pretrained();
    train::adamw_options adam;
    adam.lr = 1e-2f;
    lora::model m(base, 4, 8.0f, quantized, 9, adam);
    const gpt::weights frozen = m.base_weights();
    if (!quantized) CHECK(same(frozen, base.params()));
    // B starts at zero: the merged model is the base exactly.
    CHECK(same(m.effective_weights(), frozen));
    const auto data = batch("to be or not to be, that is the question; to be or not. ", 16);
    const double first = m.train_step(data);
    double last = first;
    for (int i = 0; i < 40; ++i) last = m.train_step(data);
    CHECK(last < first - 0.5);
    CHECK(same(m.base_weights(), frozen));  // the base is untouched

    // merge: x · W_merged equals x · W + (alpha/r) · (x · A) · B, the adapter
    // applied on the side as LoRA does at inference, computed here in double.
    const gpt::weights merged = m.merge().params();
    rng gen(4);
    const auto x = random_normal<2>({3, 16}, gen);
    const auto& ad = m.adapters()[1].q;
    const auto& w = frozen.layers[1].wq;
    const auto& wm = merged.layers[1].wq;
    double worst = 0;
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t o = 0; o < w.shape(1); ++o) {
        double side = 0, plain = 0, fused = 0;
        for (std::size_t r = 0; r < 4; ++r) {
          double xa = 0;
          for (std::size_t c = 0; c < 16; ++c) xa += double(x(i, c)) * ad.a(c, r);
          side += xa * ad.b(r, o);
        }
        for (std::size_t c = 0; c < 16; ++c)
          plain += double(x(i, c)) * w(c, o), fused += double(x(i, c)) * wm(c, o);
        worst = std::max(worst, std::abs(fused - (plain + 2.0 * side)));  // alpha / r = 2
      }
    CHECK(worst < 1e-5);  // fp32 rounding of the merged weights only
    // and the merged model's loss is the loss training saw
    CHECK(train::loss(small(), merged, data[0]) ==
          doctest::Approx(train::loss(small(), m.effective_weights(), data[0])));
  }
}

TEST_CASE("LoRA: the adapters' gradient matches central finite differences") {
  const gpt::model base(small(), 3);
  for (bool quantized : {false, true}) {
    CAPTURE(quantized);
    lora::model m(base, 2, 4.0f, quantized, 5);
    rng gen(6);
    for (auto& l : m.adapters())  // B away from zero, so that dA is not zero
      for (auto* ad : {&l.q, &l.k, &l.v, &l.o})
        for (float& x : ad->b) x = 0.5f * gen.normal();
    const auto data = batch(text, 16);
    std::vector<lora::layer_adapters> g;
    m.gradient(data, g);
    const float eps = 3e-3f;  // 1e-2 leaves O(eps²) curvature errors of ~5%: too coarse here
    float largest = 0;
    auto check = [&](tensor<2>& p, const tensor<2>& analytic) {
      for (std::size_t i = 0; i < p.size(); i += 3) {
        const float keep = p.data()[i];
        std::vector<lora::layer_adapters> unused;
        p.data()[i] = keep + eps;
        const double up = m.gradient(data, unused);
        p.data()[i] = keep - eps;
        const double down = m.gradient(data, unused);
        p.data()[i] = keep;
        const double numeric = (up - down) / (2.0 * eps);
        largest = std::max(largest, std::abs(analytic.data()[i]));
        CHECK(std::abs(numeric - analytic.data()[i]) <= 5e-4 + 3e-2 * std::abs(numeric));
      }
    };
    for (std::size_t l = 0; l < 2; ++l) {
      auto& a = m.adapters()[l];
      const auto& ga = g[l];
      check(a.q.a, ga.q.a), check(a.q.b, ga.q.b), check(a.k.a, ga.k.a), check(a.k.b, ga.k.b);
      check(a.v.a, ga.v.a), check(a.v.b, ga.v.b), check(a.o.a, ga.o.a), check(a.o.b, ga.o.b);
    }
    CHECK(largest > 0.01f);
  }
}

TEST_CASE("LoRA: memory of trainable state against full fine-tuning") {
  const gpt::model base(small(), 3);
  const lora::model plain(base, 4, 8.0f, false, 1), q(base, 4, 8.0f, true, 1);
  const auto f = plain.memory(), fq = q.memory();
  // Adapters per layer: wq, wo [16,16] -> 4·(16+16) each; wk, wv [16,8] -> 4·(16+8).
  const std::size_t adapters = 2 * (2 * 4 * 32 + 2 * 4 * 24);
  CHECK(f.adapter_parameters == adapters);
  CHECK(f.parameters == base.parameter_count());
  CHECK(f.full_finetune_bytes == 16 * base.parameter_count());
  CHECK(f.trainable_state_bytes == 16 * adapters);
  CHECK(f.base_bytes == 4 * base.parameter_count());
  // QLoRA: linear weights NF4 + double quant, the rest fp32.
  const std::size_t linear = 2 * (16 * 16 * 2 + 16 * 8 * 2 + 2 * 16 * 32);
  CHECK(fq.base_bytes < 4 * (base.parameter_count() - linear) + linear * 5 / 8);  // < 5 bits each
  CHECK(fq.base_bytes > 4 * (base.parameter_count() - linear) + linear / 2);      // > 4 bits each
  CHECK(fq.total_bytes() < f.total_bytes());
}

TEST_CASE("LoRA: bad ranks are named") {
  const gpt::model base(small(), 3);
  CHECK_THROWS_WITH_AS(lora::model(base, 0, 1.0f, false, 1),
                       "rank = 0: expected in [1, 8] (the smallest dimension of wq wk wv wo)",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(lora::model(base, 9, 1.0f, true, 1),
                       "rank = 9: expected in [1, 8] (the smallest dimension of wq wk wv wo)",
                       invalid_argument);
}
