#include <doctest/doctest.h>

#include <cmath>
#include <numeric>

#include "base/error.hpp"
#include "quant/experiment.hpp"
#include "quant/matrix.hpp"

using namespace memlab;

TEST_CASE(
    "the quantization experiment reports exact storage and small kernel differences, every "
    "format") {
  for (const auto& name : quant::format_names()) {
    CAPTURE(name);
    experiments::quant_config c;
    c.rows = 64;
    c.cols = 256;
    c.format = name;
    c.repeats = 1;
    const auto f = experiments::run_quant(c);
    REQUIRE(f.matvec.ran);
    REQUIRE(f.fp32_matvec.ran);
    CHECK(f.fp32_bytes == 64 * 256 * 4);
    CHECK(f.bits_per_weight == 8.0 * f.weight_bytes / (64 * 256));
    CHECK(f.quantize.peak_bytes >= f.weight_bytes);
    CHECK(f.kernel_rel_diff <= 1e-5);
    CHECK(f.error.rel_frobenius < (name == "fp32" ? 1e-12 : 0.15));
    CHECK(f.output_rel_error < (name == "fp32" ? 1e-6 : 0.15));
    CHECK(f.speedup > 0);
  }
}

TEST_CASE("the quantization experiment: fewer bits, more error, on Gaussian weights") {
  auto run = [](const char* name) {
    experiments::quant_config c;
    c.rows = 128;
    c.cols = 512;
    c.format = name;
    c.run_matvec = false;
    return experiments::run_quant(c);
  };
  const auto f16 = run("fp16"), q8 = run("q8_0"), q4 = run("q4_0"), n4 = run("nf4");
  experiments::quant_config c;
  c.rows = 128;
  c.cols = 512;
  c.format = "int4_sym";
  c.group = 64;
  c.run_matvec = false;
  const auto i4 = experiments::run_quant(c);  // absmax int4, fp32 scale per 64: 4.5 bits like NF4
  CHECK(f16.bits_per_weight == 16);
  CHECK(q8.bits_per_weight == 8.5);
  CHECK(q4.bits_per_weight == 4.5);
  CHECK(f16.error.rel_frobenius < q8.error.rel_frobenius);
  CHECK(q8.error.rel_frobenius < q4.error.rel_frobenius);
  CHECK(n4.bits_per_weight == 4.5);
  CHECK(i4.bits_per_weight == 4.5);
  CHECK(n4.error.rel_frobenius < 0.9 * i4.error.rel_frobenius);  // NF4 fits the Gaussian better
  CHECK_FALSE(q4.matvec.ran);
}

TEST_CASE("the grid experiment: NF4 uses its 16 codes more evenly than int4 on Gaussian weights") {
  experiments::quant_grid_config c;
  c.cols = 4096;
  const auto g = experiments::run_quant_grid(c);
  CHECK(g.row.size() == 4096);
  CHECK(g.int4_grid.size() == 15);
  CHECK(g.nf4_grid.size() == 16);
  CHECK(std::accumulate(g.int4_counts.begin(), g.int4_counts.end(), std::size_t{0}) == 4096);
  CHECK(std::accumulate(g.nf4_counts.begin(), g.nf4_counts.end(), std::size_t{0}) == 4096);
  CHECK(g.nf4_entropy_bits > g.int4_entropy_bits + 0.3);
  CHECK(g.nf4_entropy_bits <= 4.0);
  CHECK(g.nf4_rmse < g.int4_rmse);
  // Both grids span the row: the largest magnitude is a grid end.
  const float amax = std::fabs(*std::max_element(
      g.row.begin(), g.row.end(), [](float a, float b) { return std::fabs(a) < std::fabs(b); }));
  CHECK(g.int4_grid.back() == doctest::Approx(amax));
  CHECK(g.nf4_grid.back() == doctest::Approx(amax));
}

TEST_CASE(
    "the round trip the exercises benchmark: its peak is the storage and the output, counted by "
    "hand") {
  // Q8_0: 4096 / 32 blocks of an fp16 scale and 32 int8 codes. NF4 without double
  // quantization: 4096 / 64 blocks of an fp32 absmax, two codes per byte.
  const auto q8 = experiments::run_quant_round_trip("q8_0", 4096, 2, 1);
  CHECK(q8.quantized_bytes == 4096 / 32 * (2 + 32));
  CHECK(q8.output_bytes == 4096 * 4);
  CHECK(q8.run.peak_bytes == q8.quantized_bytes + q8.output_bytes);
  const auto nf4 = experiments::run_quant_round_trip("nf4", 4096, 2, 1);
  CHECK(nf4.quantized_bytes == 4096 / 64 * 4 + 4096 / 2);
  CHECK(nf4.run.peak_bytes >= nf4.quantized_bytes + nf4.output_bytes);
  CHECK(nf4.run.median_ms > 0);

  using memlab::invalid_argument;
  CHECK_THROWS_WITH_AS(experiments::run_quant_round_trip("q8_0", 100, 1, 1),
                       "n = 100: expected a multiple of 32, the group or block of q8_0",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_quant_round_trip("q8_0", 0, 1, 1),
                       "n = 0: expected a positive integer", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_quant_round_trip("nf4", 64, 0, 1),
                       "repeats = 0: expected an integer in [1, 100]", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_quant_round_trip("q3", 64, 1, 1),
                       doctest::Contains("format = q3: expected one of"), invalid_argument);
}

TEST_CASE("the quantization experiments name a bad parameter") {
  using memlab::invalid_argument;
  auto config = [](auto change) {
    experiments::quant_config c;
    c.rows = 8;
    c.cols = 64;
    c.repeats = 1;
    change(c);
    return c;
  };
  CHECK_THROWS_WITH_AS(experiments::run_quant(config([](auto& c) { c.rows = -2; })),
                       "rows = -2: expected a positive integer", invalid_argument);
  CHECK_THROWS_WITH_AS(
      experiments::run_quant(config([](auto& c) { c.format = "int2"; })),
      "format = int2: expected one of fp32, fp16, int8_sym, int8_asym, int4_sym, int4_asym, "
      "q8_0, q4_0, q4_1, nf4, nf4_dq",
      invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_quant(config([](auto& c) {
                         c.format = "int4_sym";
                         c.group = 48;
                       })),
                       "group = 48: expected a divisor of cols = 64", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_quant(config([](auto& c) {
                         c.format = "int4_sym";
                         c.granularity = "block";
                       })),
                       "granularity = block: expected one of tensor, channel, group",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_quant(config([](auto& c) { c.cols = 48; })),
                       "cols = 48: expected a multiple of 32 (the Q4_0 block)", invalid_argument);
  CHECK_THROWS_WITH_AS(experiments::run_quant(config([](auto& c) { c.distribution = "uniform"; })),
                       "distribution = uniform: expected gaussian or heavy", invalid_argument);
  experiments::quant_grid_config g;
  g.cols = 0;
  CHECK_THROWS_WITH_AS(experiments::run_quant_grid(g), "cols = 0: expected a positive integer",
                       invalid_argument);
}

TEST_CASE(
    "the tiny GPT with Q8_0 weights: exact bytes, small logit changes, the same next tokens") {
  experiments::quantized_gpt_config c;  // 4 layers, d_model 128, d_ff 512, max_seq 512, tied
  c.format = "q8_0";
  c.tokens = 8;
  const auto f = experiments::run_quantized_gpt(c);
  // fp32: embeddings 256·128 + 512·128, norms 2·4·128 + 128. Q8_0 blocks of 32 inputs
  // (34 bytes: fp16 scale + 32 int8) per output: wq wk wv wo 128 outputs × 4 blocks,
  // w1 512 × 4, w2 128 × 16.
  const std::size_t fp32_part = (256 * 128 + 512 * 128 + 2 * 4 * 128 + 128) * 4;
  const std::size_t per_layer = (4 * 128 * 4 + 512 * 4 + 128 * 16) * 34;
  CHECK(f.weight_bytes == fp32_part + 4 * per_layer);
  CHECK(f.fp32_weight_bytes == fp32_part + 4 * 4 * (4 * 128 * 128 + 2 * 128 * 512));
  CHECK(f.mean_logit_diff < 0.02 * f.logit_scale);
  CHECK(f.next_token_agreement >= 0.95);
  CHECK(f.tokens_per_second > 0);
}

TEST_CASE("ggml block bytes: a hand-worked Q4_0 block, ggml's layout; bad formats named") {
  // x[j] = 0.5 · (j % 16 - 8): the first largest magnitude is -4, d = -4 / -8 = 0.5
  // (fp16 0x3800, little-endian 00 38); q = j % 16; byte j = q[j] | q[j + 16] << 4.
  std::vector<float> x(32);
  for (int j = 0; j < 32; ++j) x[std::size_t(j)] = 0.5f * float(j % 16 - 8);
  std::vector<std::uint8_t> expected{0x00, 0x38};
  for (int j = 0; j < 16; ++j) expected.push_back(std::uint8_t(0x11 * j));
  CHECK(experiments::ggml_block_bytes("q4_0", x) == expected);
  CHECK(experiments::ggml_block_bytes("q8_0", x).size() == 34);
  CHECK(experiments::ggml_block_bytes("q4_1", std::vector<float>(64)).size() == 2 * 20);
  CHECK_THROWS_WITH_AS(experiments::ggml_block_bytes("nf4", std::vector<float>(64)),
                       "format = nf4: expected q8_0, q4_0 or q4_1 (a ggml block format)",
                       memlab::invalid_argument);
}
