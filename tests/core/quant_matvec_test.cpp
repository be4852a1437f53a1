// Quantized matrix-vector products against their plain references: the fast
// kernels must equal ggml's generic integer loops (Q8_0/Q4_0/Q4_1) or the
// double-precision product of the dequantized matrix (the others) up to fp32
// summation order, and differ from dequantize-then-fp32 by no more than the
// activations' own Q8_0 rounding allows.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/random.hpp"
#include "quant/kernels.hpp"
#include "quant/matrix.hpp"
#include "quant/matvec.hpp"

using namespace memlab;

namespace {

// max_r |a[r] - b[r]| / max_r Σ_c |w[r, c] x[c]|: a difference relative to the
// size of the terms that were summed.
double relative_diff(const tensor<1>& a, const tensor<1>& b, const tensor<2>& w,
                     const tensor<1>& x) {
  double diff = 0, scale = 0;
  for (std::size_t r = 0; r < a.size(); ++r) {
    diff = std::max(diff, std::fabs(double(a[r]) - b[r]));
    double s = 0;
    for (std::size_t c = 0; c < x.size(); ++c) s += std::fabs(double(w(r, c)) * x[c]);
    scale = std::max(scale, s);
  }
  return diff / scale;
}

// Tolerance for fp32 sums in another order than the reference: a few units of
// 2^-24 times sqrt(cols) relative to the summed magnitudes, generously.
constexpr double tolerance = 1e-5;

}  // namespace

TEST_CASE("fp32 matvec equals the double-precision reference") {
  rng gen(1);
  for (std::size_t cols : {1, 15, 16, 100, 1000}) {
    CAPTURE(cols);
    const auto w = random_normal<2>({37, cols}, gen);
    const auto x = random_normal<1>({cols}, gen);
    CHECK(relative_diff(qmatvec::fp32(w, x), qmatvec::fp32_reference(w, x), w, x) <= tolerance);
  }
}

TEST_CASE("Q8_0, Q4_0, Q4_1 kernels equal ggml's generic integer dot products") {
  rng gen(2);
  for (std::size_t cols : {32, 64, 96, 1024}) {  // 1, 2, 3 and 32 blocks: odd and even counts
    CAPTURE(cols);
    const auto w = random_normal<2>({19, cols}, gen, 0.02f);
    const auto x = random_normal<1>({cols}, gen);
    const auto xq = qmatvec::quantize_activations(x);
    const auto q8 = ggml::quantize_q8_0(w);
    const auto q4 = ggml::quantize_q4_0(w);
    const auto q41 = ggml::quantize_q4_1(w);
    CHECK(relative_diff(qmatvec::q8_0(q8, x), qmatvec::q8_0_reference(q8, xq), ggml::dequantize(q8),
                        x) <= tolerance);
    CHECK(relative_diff(qmatvec::q4_0(q4, x), qmatvec::q4_0_reference(q4, xq), ggml::dequantize(q4),
                        x) <= tolerance);
    CHECK(relative_diff(qmatvec::q4_1(q41, x), qmatvec::q4_1_reference(q41, xq),
                        ggml::dequantize(q41), x) <= tolerance);
  }
}

TEST_CASE("Q8_0 / Q4_0 products = dequantized W times x, within the activations' rounding") {
  // The ggml kernels multiply by Q8_0 activations x̂, not x. Per element,
  // |x - x̂| <= d/2 + 127 |d - fp16(d)| with d = amax/127 of its block, so
  // |y - Ŵ x| <= Σ_c |ŵ[r, c]| · that + fp32 summation.
  rng gen(3);
  const std::size_t rows = 23, cols = 256;
  const auto w = random_normal<2>({rows, cols}, gen, 0.02f);
  const auto x = random_normal<1>({cols}, gen);
  std::vector<double> x_err(cols);
  for (std::size_t b = 0; b < cols / 32; ++b) {
    float amax = 0;
    for (std::size_t j = 0; j < 32; ++j) amax = std::max(amax, std::fabs(x[b * 32 + j]));
    const double d = amax / 127.0f;
    for (std::size_t j = 0; j < 32; ++j)
      x_err[b * 32 + j] = d / 2 + 127 * std::fabs(d - fp16::round_trip(static_cast<float>(d))) +
                          1e-6 * std::fabs(x[b * 32 + j]);
  }
  for (const char* name : {"q8_0", "q4_0", "q4_1"}) {
    CAPTURE(name);
    const auto m = quant::quantized_matrix::quantize(w, quant::parse_format(name));
    const auto w_hat = m.dequantize();
    const auto y = m.matvec(x);
    const auto y_ref = qmatvec::fp32_reference(w_hat, x);
    for (std::size_t r = 0; r < rows; ++r) {
      double bound = 0, scale = 0;
      for (std::size_t c = 0; c < cols; ++c) {
        bound += std::fabs(w_hat(r, c)) * x_err[c];
        scale += std::fabs(w_hat(r, c) * x[c]);
      }
      CAPTURE(r);
      CHECK(std::fabs(double(y[r]) - y_ref[r]) <= bound + tolerance * scale);
    }
  }
}

TEST_CASE("every format's kernel equals its plain reference, tails and odd groups included") {
  rng gen(4);
  struct shape_case {
    std::size_t rows, cols;
    std::string format, granularity;
    std::size_t group_or_block;
  };
  const shape_case cases[] = {
      {9, 256, "fp16", "", 0},
      {9, 100, "fp16", "", 0},
      {9, 256, "int8_sym", "group", 64},
      {9, 100, "int8_sym", "channel", 0},
      {9, 96, "int8_asym", "group", 12},
      {9, 100, "int8_asym", "tensor", 0},
      {9, 256, "int4_sym", "group", 32},
      {9, 96, "int4_sym", "group", 3},  // odd group starts
      {9, 100, "int4_asym", "channel", 0},
      {9, 101, "int4_asym", "tensor", 0},
      {9, 256, "nf4", "", 64},
      {9, 96, "nf4", "", 6},  // a block below 16
      {9, 256, "nf4_dq", "", 64},
      {9, 1024, "nf4_dq", "", 128},
      {9, 1024, "q8_0", "", 0},
      {9, 1024, "q4_0", "", 0},
      {9, 1024, "q4_1", "", 0},
  };
  for (const auto& c : cases) {
    CAPTURE(c.format);
    CAPTURE(c.cols);
    CAPTURE(c.granularity);
    CAPTURE(c.group_or_block);
    quant::format f = quant::parse_format(c.format);
    if (quant::is_affine(f.kind)) {
      f.scope = quant::parse_granularity(c.granularity);
      f.group = c.group_or_block;
    }
    if (c.format.rfind("nf4", 0) == 0) f.block = c.group_or_block;
    auto w = random_normal<2>({c.rows, c.cols}, gen, 0.02f);
    w(2, 5) = 0.4f;  // an outlier
    const auto x = random_normal<1>({c.cols}, gen);
    const auto m = quant::quantized_matrix::quantize(w, f);
    CHECK(relative_diff(m.matvec(x), m.matvec_reference(x), m.dequantize(), x) <= tolerance);
  }
}

TEST_CASE("Q4_0 matvec scratch is exactly y and the activations' Q8_0 codes, scales and sums") {
  rng gen(5);
  const std::size_t rows = 64, cols = 512, blocks = cols / 32;
  const auto w = ggml::quantize_q4_0(random_normal<2>({rows, cols}, gen));
  const auto x = random_normal<1>({cols}, gen);
  memory::peak_scope scope;
  const auto y = qmatvec::q4_0(w, x);
  CHECK(scope.peak_bytes() == rows * 4 + cols * sizeof(qkernels::act) + blocks * 4 + blocks * 4);
  CHECK(memory::tracker().live_bytes() - scope.start_live_bytes() == rows * 4);
}

TEST_CASE("matvec: a wrong or non-finite x is named") {
  using memlab::invalid_argument;
  rng gen(6);
  const auto w = random_normal<2>({4, 128}, gen);
  const auto m = quant::quantized_matrix::quantize(w, quant::parse_format("q4_0"));
  CHECK_THROWS_WITH_AS(m.matvec(random_normal<1>({5}, gen)),
                       "x.size = 5: expected cols = 128 of the weights", invalid_argument);
  auto x = random_normal<1>({128}, gen);
  x[3] = NAN;
  for (const auto& name : quant::format_names()) {
    CAPTURE(name);
    CHECK_THROWS_WITH_AS(quant::quantized_matrix::quantize(w, quant::parse_format(name)).matvec(x),
                         "x[3] = nan: expected a finite value", invalid_argument);
  }
}
