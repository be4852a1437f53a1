#include "train/train.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "base/error.hpp"
#include "base/random.hpp"

using namespace memlab;

namespace {

gpt::config tiny(bool tied = true) {
  gpt::config c;
  c.layers = 2;
  c.d_model = 16;
  c.heads = 4;
  c.kv_heads = 2;
  c.d_ff = 24;
  c.max_seq = 12;
  c.tied = tied;
  return c;
}

// Weights with std 0.3 everywhere and random gains: large enough that every
// term of the gradient matters at finite-difference resolution.
gpt::weights big_weights(const gpt::config& c, std::uint32_t seed) {
  gpt::weights w = gpt::model(c, seed).params();
  rng gen(seed + 7);
  auto fill = [&](auto& t, float mean, float std) {
    for (float& x : t) x = mean + std * gen.normal();
  };
  fill(w.token_embedding, 0, 0.5f), fill(w.position_embedding, 0, 0.5f), fill(w.norm_f, 1, 0.2f);
  for (auto& l : w.layers) {
    fill(l.norm1, 1, 0.2f), fill(l.norm2, 1, 0.2f);
    for (auto* m : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2}) fill(*m, 0, 0.3f);
  }
  if (!c.tied) fill(w.lm_head, 0, 0.3f);
  return w;
}

// Cross-entropy of next-token prediction from the inference model's logits, in double.
double reference_loss(const gpt::model& m, const std::vector<int>& tokens) {
  const std::vector<int> in(tokens.begin(), tokens.end() - 1);
  const auto logits = m.forward(in);
  double total = 0;
  for (std::size_t i = 0; i < in.size(); ++i) {
    double max = -1e30, sum = 0;
    for (int t = 0; t < gpt::vocab; ++t) max = std::max(max, double(logits(i, std::size_t(t))));
    for (int t = 0; t < gpt::vocab; ++t) sum += std::exp(double(logits(i, std::size_t(t))) - max);
    total -= double(logits(i, std::size_t(tokens[i + 1]))) - max - std::log(sum);
  }
  return total / double(in.size());
}

}  // namespace

TEST_CASE("training: the training forward pass gives the inference model's loss") {
  for (bool tied : {true, false}) {
    const auto c = tiny(tied);
    const gpt::model m(c, big_weights(c, 3));
    const auto t = gpt::encode("Hello, memlab");  // 13 bytes: T = 12 = max_seq
    // Inference uses flash attention and a polynomial tanh: agree to 1e-4.
    CHECK(train::loss(c, m.params(), t) == doctest::Approx(reference_loss(m, t)).epsilon(1e-4));
  }
}

TEST_CASE("training: the hand-written backward matches central finite differences") {
  for (bool tied : {true, false}) {
    CAPTURE(tied);
    const auto c = tiny(tied);
    gpt::weights w = big_weights(c, 5);
    const auto tokens = gpt::encode("abracadabra");
    gpt::weights g = train::zeros_like(w);
    train::loss_and_gradient(c, w, tokens, g);
    const float eps = 1e-2f;
    float largest = 0;
    int checked = 0;
    auto check = [&](tensor<2>& wt, const tensor<2>& gt) {
      for (std::size_t i = 0; i < wt.size(); i += 5) {
        const float keep = wt.data()[i];
        wt.data()[i] = keep + eps;
        const double up = train::loss(c, w, tokens);
        wt.data()[i] = keep - eps;
        const double down = train::loss(c, w, tokens);
        wt.data()[i] = keep;
        const double numeric = (up - down) / (2.0 * eps);
        const double analytic = gt.data()[i];
        largest = std::max(largest, float(std::abs(analytic)));
        ++checked;
        // O(eps²) truncation plus float rounding of a loss near 5 (~1e-4 after
        // dividing by 2·eps): 5e-4 + 3% catches any missing or wrong term.
        CHECK(std::abs(numeric - analytic) <= 5e-4 + 3e-2 * std::abs(numeric));
      }
    };
    auto check1 = [&](tensor<1>& wt, const tensor<1>& gt) {
      for (std::size_t i = 0; i < wt.size(); i += 3) {
        const float keep = wt(i);
        wt(i) = keep + eps;
        const double up = train::loss(c, w, tokens);
        wt(i) = keep - eps;
        const double down = train::loss(c, w, tokens);
        wt(i) = keep;
        const double numeric = (up - down) / (2.0 * eps);
        CHECK(std::abs(numeric - gt(i)) <= 5e-4 + 3e-2 * std::abs(numeric));
        ++checked;
      }
    };
    // Rows of the embedding that the text uses: 'a' 'b' 'r' 'c' 'd'.
    for (int byte : {'a', 'b', 'r'})
      for (std::size_t j = 0; j < 16; ++j) {
        float& x = w.token_embedding(std::size_t(byte), j);
        const float keep = x;
        x = keep + eps;
        const double up = train::loss(c, w, tokens);
        x = keep - eps;
        const double down = train::loss(c, w, tokens);
        x = keep;
        CHECK(std::abs((up - down) / (2.0 * eps) - g.token_embedding(std::size_t(byte), j)) <=
              5e-4 + 3e-2 * std::abs((up - down) / (2.0 * eps)));
      }
    for (std::size_t l = 0; l < w.layers.size(); ++l) {
      auto& lw = w.layers[l];
      const auto& lg = g.layers[l];
      check(lw.wq, lg.wq), check(lw.wk, lg.wk), check(lw.wv, lg.wv), check(lw.wo, lg.wo);
      check(lw.w1, lg.w1), check(lw.w2, lg.w2);
      check1(lw.norm1, lg.norm1), check1(lw.norm2, lg.norm2);
    }
    check1(w.norm_f, g.norm_f);
    if (!tied) check(w.lm_head, g.lm_head);
    check(w.position_embedding, g.position_embedding);
    CHECK(checked > 300);
    CHECK(largest > 0.05f);  // the gradients checked are not all negligible
  }
}

TEST_CASE("training: a few AdamW steps lower the loss, and the state is 8 bytes a parameter") {
  train::options o;
  o.model = tiny();
  o.model.max_seq = 16;
  o.steps = 40;
  o.batch = 4;
  o.seq = 16;
  o.adam.lr = 1e-2f;
  const std::string text =
      "the cat sat on the mat. the dog sat on the log. the cat and the dog sat. ";
  int calls = 0;
  const auto r = train::run(text + text + text, o, [&](int step, double) { calls = step; });
  CHECK(calls == 40);
  REQUIRE(r.losses.size() == 40);
  CHECK(r.final_eval_loss < r.initial_eval_loss - 1.0);  // from ~ln 256 = 5.5
  CHECK(r.losses.back() < r.losses.front() - 1.0);
  const train::adamw opt(r.model.params(), {});
  CHECK(opt.state_bytes() == 8 * r.model.parameter_count());
}

TEST_CASE("training: bad options are named") {
  train::options o;
  o.model = tiny();
  o.seq = 13;
  CHECK_THROWS_WITH_AS(train::run(std::string(100, 'x'), o),
                       "seq = 13: expected at most max_seq = 12", invalid_argument);
  o.seq = 8;
  CHECK_THROWS_WITH_AS(train::run("short", o), "text = 5: expected more than seq + 1 = 9 bytes",
                       invalid_argument);
  o.steps = 0;
  CHECK_THROWS_WITH_AS(train::run(std::string(100, 'x'), o),
                       "steps = 0: expected a positive integer", invalid_argument);
}

TEST_CASE(
    "training: checkpointing the GPT's layers gives bitwise the same gradients in less memory") {
  auto c = tiny();
  c.layers = 9;
  const gpt::weights w = big_weights(c, 8);
  const auto tokens = gpt::encode("abracadabra!");
  auto flat = [](const gpt::weights& g) {
    std::vector<float> all(g.token_embedding.begin(), g.token_embedding.end());
    all.insert(all.end(), g.position_embedding.begin(), g.position_embedding.end());
    for (const auto& l : g.layers)
      for (const auto* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2})
        all.insert(all.end(), t->begin(), t->end());
    for (const auto& l : g.layers)
      for (const auto* t : {&l.norm1, &l.norm2}) all.insert(all.end(), t->begin(), t->end());
    all.insert(all.end(), g.norm_f.begin(), g.norm_f.end());
    return all;
  };
  gpt::weights reference = train::zeros_like(w);
  train::checkpoint_figures none;
  const double loss =
      train::loss_and_gradient(c, w, tokens, reference, 1.0f, checkpoint::policy::none(), &none);
  CHECK(none.recomputed_layers == 0);
  struct expected_case {
    checkpoint::policy policy;
    int recomputed;
  };
  for (const auto& e : {expected_case{checkpoint::policy::sqrt_n(), 6},  // segments of 3: 9 - 3
                        expected_case{checkpoint::policy::every(1), 8},
                        expected_case{checkpoint::policy::at({4}), 4}}) {
    CAPTURE(e.policy.name());
    gpt::weights g = train::zeros_like(w);
    train::checkpoint_figures f;
    CHECK(train::loss_and_gradient(c, w, tokens, g, 1.0f, e.policy, &f) == loss);
    CHECK(flat(g) == flat(reference));
    CHECK(f.recomputed_layers == e.recomputed);
    CHECK(f.peak_bytes < none.peak_bytes);
  }
}

TEST_CASE("training: flash attention's gradients equal naive attention's, for less memory") {
  // 2 layers, 4 query heads over 2 K/V heads of 16, T = 127 tokens (two 64-row
  // tiles, the second partial): naive keeps P [4, 127, 127] per layer, flash the
  // logsumexp [4, 127].
  gpt::config c;
  c.layers = 2;
  c.d_model = 64;
  c.heads = 4;
  c.kv_heads = 2;
  c.d_ff = 96;
  c.max_seq = 128;
  const gpt::weights w = gpt::model(c, 21).params();
  std::vector<int> tokens(128);
  rng gen(4);
  for (int& t : tokens) t = int(gen.next_u64() % gpt::vocab);
  auto flat = [](const gpt::weights& g) {
    std::vector<float> all;
    auto add = [&](const auto& t) { all.insert(all.end(), t.begin(), t.end()); };
    add(g.token_embedding), add(g.position_embedding), add(g.norm_f);
    for (const auto& l : g.layers)
      for (const auto* t : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2}) add(*t);
    for (const auto& l : g.layers) add(l.norm1), add(l.norm2);
    return all;
  };
  gpt::weights flash = train::zeros_like(w), naive = train::zeros_like(w);
  train::checkpoint_figures flash_figures, naive_figures;
  const auto none = checkpoint::policy::none();
  const double flash_loss = train::loss_and_gradient(
      c, w, tokens, flash, 1.0f, none, &flash_figures, train::attention_kernel::flash);
  const double naive_loss = train::loss_and_gradient(
      c, w, tokens, naive, 1.0f, none, &naive_figures, train::attention_kernel::naive);
  CHECK(flash_loss == doctest::Approx(naive_loss).epsilon(1e-6));
  const auto a = flat(flash), b = flat(naive);
  REQUIRE(a.size() == b.size());
  double diff = 0, largest = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, double(std::abs(a[i] - b[i])));
    largest = std::max(largest, double(std::abs(b[i])));
  }
  INFO("max |flash - naive| " << diff << ", largest gradient " << largest);
  CHECK(diff <= 1e-5);
  CHECK(largest > 1e-3);  // gradients that are not all ~0
  // The step's peak drops by at least the probabilities of both layers, less the
  // logsumexp flash keeps instead: 2 layers · 4 heads · (127² − 127) floats.
  INFO("peak: naive " << naive_figures.peak_bytes << " B, flash " << flash_figures.peak_bytes
                      << " B");
  CHECK(naive_figures.peak_bytes - flash_figures.peak_bytes >= 2 * 4 * (127 * 127 - 127) * 4);
}
