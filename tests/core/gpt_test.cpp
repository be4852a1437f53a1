#include "model/gpt.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <string>
#include <xtensor/xmanipulation.hpp>

#include "base/error.hpp"
#include "model/generate.hpp"
#include "paged_kv_cache/paged_kv_cache.hpp"

using namespace memlab;

namespace {

gpt::config small(int kv_heads, bool tied = true) {
  gpt::config c;
  c.layers = 2;
  c.d_model = 32;
  c.heads = 4;
  c.kv_heads = kv_heads;
  c.d_ff = 48;
  c.max_seq = 64;
  c.tied = tied;
  return c;
}

// The model with every RMSNorm gain randomised too (they start at 1), so the
// reference below checks that each gain is applied where it belongs.
gpt::model with_random_gains(const gpt::config& c, std::uint32_t seed) {
  gpt::weights w = gpt::model(c, seed).params();
  rng gen(seed + 1);
  auto jiggle = [&](tensor<1>& g) {
    for (float& x : g) x = 1.0f + 0.3f * gen.normal();
  };
  for (auto& l : w.layers) jiggle(l.norm1), jiggle(l.norm2);
  jiggle(w.norm_f);
  return gpt::model(c, std::move(w));
}

using matrix = std::vector<std::vector<double>>;

matrix matmul(const matrix& x, const tensor<2>& w) {
  matrix y(x.size(), std::vector<double>(w.shape(1), 0.0));
  for (std::size_t i = 0; i < x.size(); ++i)
    for (std::size_t k = 0; k < w.shape(0); ++k)
      for (std::size_t j = 0; j < w.shape(1); ++j) y[i][j] += x[i][k] * w(k, j);
  return y;
}

matrix rms_norm(const matrix& x, const tensor<1>& g) {
  matrix y = x;
  for (auto& row : y) {
    double ss = 0;
    for (double v : row) ss += v * v;
    const double inv = 1.0 / std::sqrt(ss / row.size() + 1e-5);
    for (std::size_t c = 0; c < row.size(); ++c) row[c] *= inv * g(c);
  }
  return y;
}

// The decoder straight from its definition (gpt.hpp's top comment), in double
// precision and plain loops: logits [n, 256] for tokens at positions 0..n-1.
matrix reference_logits(const gpt::model& m, const std::vector<int>& tokens) {
  const auto& c = m.cfg();
  const auto& w = m.params();
  const std::size_t n = tokens.size(), d = c.d_model, hd = c.head_dim();
  matrix x(n, std::vector<double>(d));
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j)
      x[i][j] = double(w.token_embedding(tokens[i], j)) + w.position_embedding(i, j);
  for (const auto& l : w.layers) {
    const matrix h = rms_norm(x, l.norm1);
    const matrix q = matmul(h, l.wq), k = matmul(h, l.wk), v = matmul(h, l.wv);
    matrix a(n, std::vector<double>(c.heads * hd, 0.0));
    for (int head = 0; head < c.heads; ++head) {
      const std::size_t g = head / (c.heads / c.kv_heads);
      for (std::size_t i = 0; i < n; ++i) {
        std::vector<double> p(i + 1);
        double max = -INFINITY, sum = 0;
        for (std::size_t j = 0; j <= i; ++j) {
          double s = 0;
          for (std::size_t e = 0; e < hd; ++e) s += q[i][head * hd + e] * k[j][g * hd + e];
          max = std::max(max, p[j] = s / std::sqrt(double(hd)));
        }
        for (double& x : p) sum += (x = std::exp(x - max));
        for (std::size_t j = 0; j <= i; ++j)
          for (std::size_t e = 0; e < hd; ++e) a[i][head * hd + e] += p[j] / sum * v[j][g * hd + e];
      }
    }
    const matrix o = matmul(a, l.wo);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) x[i][j] += o[i][j];
    matrix u = matmul(rms_norm(x, l.norm2), l.w1);
    for (auto& row : u)
      for (double& z : row)
        z = 0.5 * z * (1 + std::tanh(std::sqrt(2 / M_PI) * (z + 0.044715 * z * z * z)));
    const matrix f = matmul(u, l.w2);
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < d; ++j) x[i][j] += f[i][j];
  }
  const matrix h = rms_norm(x, w.norm_f);
  if (!c.tied) return matmul(h, w.lm_head);
  matrix logits(n, std::vector<double>(gpt::vocab, 0.0));
  for (std::size_t i = 0; i < n; ++i)
    for (int t = 0; t < gpt::vocab; ++t)
      for (std::size_t j = 0; j < d; ++j) logits[i][t] += h[i][j] * w.token_embedding(t, j);
  return logits;
}

double max_diff(const tensor<2>& a, const matrix& b) {
  double diff = 0;
  for (std::size_t i = 0; i < b.size(); ++i)
    for (std::size_t j = 0; j < b[i].size(); ++j)
      diff = std::max(diff, std::abs(a(i, j) - b[i][j]));
  return diff;
}

}  // namespace

TEST_CASE("the GPT forward pass matches a double-precision reference written from its definition") {
  for (auto [kv_heads, tied] : {std::pair{4, true}, std::pair{2, false}, std::pair{1, true}}) {
    CAPTURE(kv_heads);
    CAPTURE(tied);
    const gpt::model m = with_random_gains(small(kv_heads, tied), 11);
    const auto tokens = gpt::encode("KV caches!");
    const tensor<2> logits = m.forward(tokens);
    REQUIRE(logits.shape(0) == tokens.size());
    REQUIRE(logits.shape(1) == 256);
    CHECK(max_diff(logits, reference_logits(m, tokens)) <= 1e-5);
  }
}

TEST_CASE("the cache changes nothing: step-by-step logits equal the full forward pass") {
  const gpt::model m = with_random_gains(small(2), 3);
  const auto tokens = gpt::encode("paged attention");
  const tensor<2> full = m.forward(tokens);
  auto cache = m.make_cache();
  std::vector<int> prompt(tokens.begin(), tokens.begin() + 4);
  tensor<2> chunk = m.forward(prompt, &cache);  // prefill 4, then one at a time
  double prefill_diff = 0;
  for (std::size_t i = 0; i < 4; ++i)
    for (int t = 0; t < 256; ++t)
      prefill_diff = std::max(prefill_diff, double(std::abs(chunk(i, t) - full(i, t))));
  CHECK(prefill_diff <= 1e-5);
  for (std::size_t i = 4; i < tokens.size(); ++i) {
    const tensor<1> step = m.next_logits({tokens[i]}, &cache);
    double diff = 0;
    for (int t = 0; t < 256; ++t) diff = std::max(diff, double(std::abs(step(t) - full(i, t))));
    CAPTURE(i);
    CHECK(diff <= 1e-5);
  }
  CHECK(cache.length() == tokens.size());
}

TEST_CASE("generation with and without the cache gives the same tokens and logits: MHA, GQA, MQA") {
  for (int kv_heads : {4, 2, 1}) {
    for (float temperature : {0.0f, 0.9f}) {
      CAPTURE(kv_heads);
      CAPTURE(temperature);
      const gpt::model m(small(kv_heads), 21);
      const sampling s{temperature, temperature > 0 ? 20 : 0, 5};
      const auto prompt = gpt::encode("Hello");
      const generation cached = generate(m, prompt, 30, true, s, true);
      const generation uncached = generate(m, prompt, 30, false, s, true);
      REQUIRE(cached.tokens.size() == 30);
      CHECK(cached.tokens == uncached.tokens);
      double diff = 0;
      for (std::size_t i = 0; i < 30; ++i)
        for (int t = 0; t < 256; ++t)
          diff = std::max(diff, double(std::abs(cached.logits[i](t) - uncached.logits[i](t))));
      CHECK(diff <= 1e-5);
      CHECK(cached.cache_bytes ==
            2 * 2 * kv_heads * 64 * 8 * 4);  // layers·2·kv_heads·max_seq·head_dim·4
      CHECK(uncached.cache_bytes == 0);
    }
  }
}

TEST_CASE("the same seed gives the same weights; a different seed different ones") {
  const auto a = gpt::model(small(2), 4).to_bytes();
  CHECK(a == gpt::model(small(2), 4).to_bytes());
  CHECK(a != gpt::model(small(2), 5).to_bytes());
  // parameters: embeddings 256·32 + 64·32; per layer 2·32 + 32·32 + 2·32·16 + 32·32 + 2·32·48;
  // norm_f 32
  CHECK(gpt::model(small(2), 4).parameter_count() ==
        256 * 32 + 64 * 32 + 2 * (2 * 32 + 32 * 32 + 2 * 32 * 16 + 32 * 32 + 2 * 32 * 48) + 32);
}

TEST_CASE("save and load round-trip exactly; bad files are refused with the reason") {
  const gpt::model m = with_random_gains(small(2, false), 8);
  const auto bytes = m.to_bytes();
  const gpt::model back = gpt::model::from_bytes(bytes);
  CHECK(back.to_bytes() == bytes);
  const auto tokens = gpt::encode("round trip");
  CHECK(max_diff(back.forward(tokens), reference_logits(m, tokens)) <= 1e-5);

  const std::string path = "memlab-gpt-test.bin";
  m.save(path);
  CHECK(gpt::model::load(path).to_bytes() == bytes);
  std::remove(path.c_str());

  const std::size_t size = bytes.size();
  auto truncated = bytes;
  truncated.pop_back();
  CHECK_THROWS_WITH_AS(
      gpt::model::from_bytes(truncated),
      ("file size = " + std::to_string(size - 1) + ": expected exactly " + std::to_string(size) +
       " bytes for layers 2, d_model 32, heads 4, kv_heads 2, d_ff 48, max_seq 64, "
       "untied (truncated)")
          .c_str(),
      memlab::invalid_argument);
  auto wrong_magic = bytes;
  wrong_magic[0] = 'X';
  CHECK_THROWS_WITH_AS(gpt::model::from_bytes(wrong_magic),
                       "magic = XLABGPT1: expected \"MLABGPT1\" (a memlab GPT file, version 1)",
                       memlab::invalid_argument);
  auto bad_config = bytes;
  bad_config[8 + 3 * 4] = 3;  // kv_heads 3 with heads 4
  CHECK_THROWS_WITH_AS(gpt::model::from_bytes(bad_config),
                       "kv_heads = 3: expected a divisor of heads = 4", memlab::invalid_argument);
  CHECK_THROWS_WITH_AS(gpt::model::from_bytes({1, 2, 3}),
                       "file size = 3: expected at least 40 bytes (magic and config)",
                       memlab::invalid_argument);
  CHECK_THROWS_AS(gpt::model::load("/nonexistent/memlab.bin"), std::runtime_error);
}

TEST_CASE(
    "bad prompts, lengths and configs are refused with a named error; the cache is untouched") {
  const gpt::model m(small(2), 1);
  using memlab::invalid_argument;
  CHECK_THROWS_WITH_AS(generate(m, std::vector<int>(65, 'a'), 1, true),
                       "prompt length = 65: expected at most max_seq = 64", invalid_argument);
  CHECK_THROWS_WITH_AS(generate(m, std::vector<int>(60, 'a'), 10, true),
                       "max_new_tokens = 10: expected at most max_seq - prompt length = 4",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(generate(m, {}, 10, false), "prompt = empty: expected at least 1 token",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(m.forward({65, 300}),
                       "token = 300: expected a byte value in [0, 256) at index 1",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(generate(m, {1}, 3, true, {-1.0f, 0, 1}),
                       "temperature = -1: expected 0 (greedy) or a positive finite number",
                       invalid_argument);
  gpt::config bad = small(2);
  bad.kv_heads = 3;
  CHECK_THROWS_WITH_AS(gpt::model(bad, 1), "kv_heads = 3: expected a divisor of heads = 4",
                       invalid_argument);
  bad = small(2);
  bad.d_model = 30;
  CHECK_THROWS_WITH_AS(gpt::model(bad, 1), "d_model = 30: expected a multiple of heads = 4",
                       invalid_argument);

  // Past the model's positions, or past a (smaller) cache's capacity: refused before
  // any layer stores anything (the first layer's append is the one that refuses).
  auto cache = m.make_cache();
  m.forward(std::vector<int>(60, 'a'), &cache);
  CHECK_THROWS_WITH_AS(m.forward(std::vector<int>(5, 'b'), &cache),
                       "position = 64: expected less than max_seq = 64", invalid_argument);
  CHECK(cache.length() == 60);
  contiguous_kv_cache small_cache(2, 2, 32, 8);
  m.forward(std::vector<int>(30, 'a'), &small_cache);
  CHECK_THROWS_WITH_AS(m.forward(std::vector<int>(5, 'b'), &small_cache),
                       "tokens = 35: expected at most max_seq = 32 (the cache holds 30 and 5 more "
                       "were appended)",
                       invalid_argument);
  for (std::size_t layer = 0; layer < 2; ++layer) CHECK(small_cache.layer(layer).seq() == 30);
  contiguous_kv_cache wrong(2, 4, 64, 8);
  CHECK_THROWS_AS(m.forward({1}, &wrong), invalid_argument);
}

TEST_CASE("a model with quantized weights: exact bytes, and the logits of its dequantized twin") {
  gpt::config c = small(2);
  c.d_model = 64, c.d_ff = 128;  // inputs of 64 and 128: whole blocks for every format
  const gpt::model fp32 = with_random_gains(c, 31);
  const auto tokens = gpt::encode("weights in four bits");
  for (const std::string name : {"nf4", "int8_sym", "q8_0", "q4_0"}) {
    CAPTURE(name);
    quant::format format = quant::parse_format(name);
    format.group = 32;  // int8 in groups of 32 along the 64 or 128 inputs
    const gpt::model q = fp32.quantized(format);
    REQUIRE(q.weight_format() != nullptr);
    CHECK(q.weight_format()->kind == format.kind);

    // Bytes: fp32 embeddings and norms, plus each linear weight as its format stores it.
    std::size_t expected = fp32.weight_bytes();
    gpt::weights twin = fp32.params();
    for (auto& l : twin.layers)
      for (tensor<2>* w : {&l.wq, &l.wk, &l.wv, &l.wo, &l.w1, &l.w2}) {
        const auto m = quant::quantized_matrix::quantize(xt::transpose(*w), format);
        expected += m.bytes();
        expected -= w->size() * sizeof(float);
        *w = xt::transpose(m.dequantize());  // the twin: dequantized weights in fp32
      }
    CHECK(q.weight_bytes() == expected);
    CHECK(q.weight_bytes() < fp32.weight_bytes());

    // NF4 and int8 multiply dequantized weights: the same as the fp32 twin. Q8_0 and
    // Q4_0 also round the activations to 8 bits (as ggml does), so only close.
    const double tolerance =
        format.kind == quant::scheme::q8_0 || format.kind == quant::scheme::q4_0 ? 2e-2 : 1e-5;
    const tensor<2> logits = q.forward(tokens);
    const tensor<2> twin_logits = gpt::model(c, twin).forward(tokens);
    double diff = 0;
    for (std::size_t i = 0; i < logits.size(); ++i)
      diff = std::max(diff, double(std::abs(logits.data()[i] - twin_logits.data()[i])));
    CHECK(diff <= tolerance);
    // With a cache, the same tokens as without.
    CHECK(generate(q, tokens, 12, true).tokens == generate(q, tokens, 12, false).tokens);
  }
  using memlab::invalid_argument;
  CHECK_THROWS_WITH_AS(
      fp32.quantized(quant::parse_format("nf4")).quantized(quant::parse_format("q8_0")),
      "model = quantized: expected an fp32 model to quantize", invalid_argument);
  CHECK_THROWS_AS(fp32.quantized(quant::parse_format("nf4")).to_bytes(), invalid_argument);
  CHECK_THROWS_AS(
      gpt::model(small(2), 1).quantized(quant::parse_format("int4_sym")),  // group 128 > 32 inputs
      invalid_argument);
}

TEST_CASE(
    "the decoder: the double reference's logits at every position, nothing allocated a step") {
  for (auto [kv_heads, tied] : {std::pair{4, true}, std::pair{2, false}, std::pair{1, true}}) {
    CAPTURE(kv_heads);
    CAPTURE(tied);
    const gpt::config c = small(kv_heads, tied);
    const gpt::model m = with_random_gains(c, 41);
    const auto tokens = gpt::encode("one token at a time");
    const matrix expected = reference_logits(m, tokens);
    auto cache = m.make_cache();
    memory::peak_scope made;
    gpt::decoder decoder(m, cache);
    // x, the normed x, q (32 each), k and v (kv_heads · 8 each), the MLP's 48,
    // one head's 64 scores and 256 logits, in floats.
    const std::size_t bytes = (3 * 32 + 2 * kv_heads * 8 + 48 + 64 + 256) * 4;
    CHECK(made.peak_bytes() == bytes);
    CHECK(gpt::decoder::bytes(c) == bytes);
    memory::peak_scope steps;
    double diff = 0;
    for (std::size_t i = 0; i < tokens.size(); ++i) {
      const tensor<1>& logits = decoder.step(tokens[i]);
      for (int t = 0; t < 256; ++t) diff = std::max(diff, std::abs(logits(t) - expected[i][t]));
    }
    CHECK(diff <= 1e-5);
    CHECK(steps.allocations() == 0);
    CHECK(cache.length() == tokens.size());
  }
}

TEST_CASE("the decoder after a prefill, quantized and MoE: the general path's logits") {
  gpt::config dense = small(2);
  dense.d_model = 64, dense.d_ff = 128;  // whole Q8_0 blocks
  gpt::config moe = small(2);
  moe.experts = 4, moe.top_k = 2;
  const gpt::model fp32 = with_random_gains(dense, 43);
  for (const gpt::model& m : {fp32.quantized(quant::parse_format("q8_0")),
                              fp32.quantized(quant::parse_format("nf4")), gpt::model(moe, 47)}) {
    CAPTURE(m.cfg().experts);
    const auto tokens = gpt::encode("prefill, then decode");
    const std::vector<int> prompt(tokens.begin(), tokens.begin() + 8);
    auto general = m.make_cache(), decoding = m.make_cache();
    m.forward(prompt, &general);
    m.forward(prompt, &decoding);
    gpt::decoder decoder(m, decoding);
    double diff = 0;
    for (std::size_t i = prompt.size(); i < tokens.size(); ++i) {
      const tensor<1> expected = m.next_logits({tokens[i]}, &general);
      const tensor<1>& logits = decoder.step(tokens[i]);
      for (int t = 0; t < 256; ++t)
        diff = std::max(diff, double(std::abs(logits(t) - expected(t))));
    }
    CHECK(diff <= 1e-5);
    CHECK(decoding.length() == tokens.size());
  }
}

TEST_CASE(
    "the decoder refuses a bad token, a full cache or another model's cache, changing nothing") {
  using memlab::invalid_argument;
  const gpt::model m(small(2), 5);
  auto cache = m.make_cache();
  gpt::decoder decoder(m, cache);
  decoder.step(65);
  CHECK_THROWS_WITH_AS(decoder.step(256), "token = 256: expected a byte value in [0, 256)",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(decoder.step(-1), "token = -1: expected a byte value in [0, 256)",
                       invalid_argument);
  CHECK(cache.length() == 1);
  for (int i = 1; i < 64; ++i) decoder.step(i);
  CHECK_THROWS_WITH_AS(decoder.step(7), "position = 64: expected less than max_seq = 64",
                       invalid_argument);
  CHECK(cache.length() == 64);
  contiguous_kv_cache other(2, 4, 64, 8);  // kv_heads 4, the model has 2
  CHECK_THROWS_WITH_AS(gpt::decoder(m, other),
                       "cache = layers 2, kv_heads 4, head_dim 8: expected the model's layers, "
                       "kv_heads and head_dim",
                       invalid_argument);
  // A smaller cache than max_seq (a paged pool of 3 blocks of 4) refuses at its capacity.
  block_pool pool(2, 2, 8, 4, 3);
  paged_kv_cache paged(pool);
  gpt::decoder small_pool(m, paged);
  for (int i = 0; i < 12; ++i) small_pool.step(i);
  CHECK_THROWS_AS(small_pool.step(12), out_of_blocks);
  CHECK(paged.length() == 12);
}
