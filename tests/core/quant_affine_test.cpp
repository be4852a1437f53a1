// Affine int8/int4 quantization, the error figures, and the format names of
// quantized_matrix: hand-worked codes, the s/2 bound, exact storage.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/random.hpp"
#include "quant/affine.hpp"
#include "quant/matrix.hpp"

using namespace memlab;
using memlab::quant::affine_format;
using memlab::quant::granularity;

namespace {

tensor<2> matrix(std::size_t rows, std::size_t cols, const std::vector<float>& values) {
  auto t = tensor<2>::from_shape({rows, cols});
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

std::string describe(const affine_format& f) {
  return "int" + std::to_string(f.bits) + (f.symmetric ? "_sym " : "_asym ") +
         quant::name(f.scope) + " " + std::to_string(f.group);
}

}  // namespace

TEST_CASE("error figures: hand-computed") {
  const auto a = matrix(2, 2, {1, 2, 3, 4});
  const auto b = matrix(2, 2, {1, 2.5f, 3, 3});
  const auto e = quant::measure_error(a, b);
  CHECK(e.max_abs == 1.0);
  CHECK(e.rmse == doctest::Approx(std::sqrt(1.25 / 4)).epsilon(1e-12));
  CHECK(e.rel_frobenius == doctest::Approx(std::sqrt(1.25 / 30)).epsilon(1e-12));
  CHECK(quant::measure_error(a, a).rel_frobenius == 0);
}

TEST_CASE("int8 symmetric: hand-worked codes, halves round away from zero") {
  // absmax 127 · 2^-7 makes the scale exactly 2^-7; multiples of 2^-8 then give
  // w / s = k / 2 exactly. Codes are q + 128.
  const float s = 0x1p-7f;
  const auto w = matrix(1, 6, {127 * s, -127 * s, 0x1p-8f, -0x1p-8f, 0.0f, 3 * 0x1p-8f});
  const auto m = quant::quantize_affine(w, {8, true, granularity::tensor, 0});
  CHECK(m.scales[0] == s);
  CHECK(m.zero_points.empty());
  const std::vector<int> expected = {255, 1, 129, 127, 128, 130};  // q = 127, -127, 1, -1, 0, 2
  for (std::size_t c = 0; c < 6; ++c) {
    CAPTURE(c);
    CHECK(int(m.codes[c]) == expected[c]);
  }
}

TEST_CASE("int4 asymmetric: hand-worked codes, zero point and nibble order") {
  // lo = -1, hi = 3.5: s = 4.5 / 15 = 0.3, z = round(1 / 0.3) = 3;
  // codes round(w / 0.3) + 3: -1 -> 0, 0 -> 3, 2 -> 10, 3.5 -> 15.
  const auto w = matrix(1, 4, {-1.0f, 0.0f, 2.0f, 3.5f});
  const auto m = quant::quantize_affine(w, {4, false, granularity::channel, 0});
  CHECK(m.scales[0] == doctest::Approx(0.3f));
  CHECK(int(m.zero_points[0]) == 3);
  REQUIRE(m.codes.size() == 2);
  CHECK(int(m.codes[0]) == 0x30);  // value 0 in the low nibble, value 1 in the high one
  CHECK(int(m.codes[1]) == 0xFA);
  const auto back = quant::dequantize(m);
  CHECK(back(0, 0) == doctest::Approx(-0.9f));
  CHECK(back(0, 1) == 0.0f);  // zero stays exactly zero
  CHECK(back(0, 2) == doctest::Approx(2.1f));
  CHECK(back(0, 3) == doctest::Approx(3.6f));
}

TEST_CASE("affine: an all-zero group restores to exact zeros") {
  const auto w = matrix(2, 4, {0, 0, 0, 0, 1, -2, 3, -4});
  for (bool symmetric : {true, false}) {
    const auto m = quant::quantize_affine(w, {4, symmetric, granularity::channel, 0});
    const auto back = quant::dequantize(m);
    for (std::size_t c = 0; c < 4; ++c) CHECK(back(0, c) == 0.0f);
  }
}

TEST_CASE("affine: every value within s/2 of the original, all bit widths and granularities") {
  rng gen(5);
  auto w = random_normal<2>({12, 96}, gen);
  w(3, 5) = 25.0f;  // an outlier
  for (int bits : {8, 4})
    for (bool symmetric : {true, false})
      for (granularity g : {granularity::tensor, granularity::channel, granularity::group})
        for (std::size_t group : {32, 12, 3}) {  // 3: odd group starts, the scalar path
          const affine_format f{bits, symmetric, g, group};
          CAPTURE(describe(f));
          const auto m = quant::quantize_affine(w, f);
          const auto back = quant::dequantize(m);
          for (std::size_t r = 0; r < 12; ++r)
            for (std::size_t c = 0; c < 96; ++c) {
              const double s = m.scales[m.group_of(r, c)];
              REQUIRE(std::fabs(double(w(r, c)) - back(r, c)) <=
                      0.5 * s * (1 + 1e-5) + 1e-7 * std::fabs(w(r, c)));
            }
          if (g != granularity::group) break;  // the group size only matters for groups
        }
}

TEST_CASE("affine: smaller groups keep an outlier's damage local") {
  // One outlier at row 0, column 3. Per tensor it sets the step of every value;
  // per channel only of row 0; per group of 32 only of columns 0-31 of row 0.
  rng gen(9);
  auto w = random_normal<2>({16, 128}, gen, 0.02f);
  w(0, 3) = 2.0f;
  auto rmse = [&](granularity g, std::size_t row, std::size_t from) {
    const auto back = quant::dequantize(quant::quantize_affine(w, {4, true, g, 32}));
    double sum = 0;
    for (std::size_t c = from; c < 128; ++c) sum += std::pow(double(w(row, c)) - back(row, c), 2);
    return std::sqrt(sum / double(128 - from));
  };
  // Another row: hurt per tensor only.
  CHECK(rmse(granularity::tensor, 5, 0) > 4 * rmse(granularity::channel, 5, 0));
  CHECK(rmse(granularity::group, 5, 0) <= rmse(granularity::channel, 5, 0));
  // Row 0 outside the outlier's group: hurt per tensor and per channel, not per group.
  CHECK(rmse(granularity::channel, 0, 32) > 4 * rmse(granularity::group, 0, 32));
  double previous = INFINITY;
  for (granularity g : {granularity::tensor, granularity::channel, granularity::group}) {
    CAPTURE(std::string(quant::name(g)));
    const double all =
        quant::measure_error(w, quant::dequantize(quant::quantize_affine(w, {4, true, g, 32})))
            .rmse;
    CHECK(all < previous);
    previous = all;
  }
}

TEST_CASE("affine: storage bits per weight are exact, in the tracker too") {
  rng gen(2);
  const auto w = random_normal<2>({8, 256}, gen);
  struct expectation {
    affine_format f;
    std::size_t bytes;
    double bits;
  };
  const expectation cases[] = {
      {{4, false, granularity::group, 128}, 8 * 128 + 16 * 4 + 16, 4 + 40.0 / 128},  // 4.3125
      {{4, true, granularity::group, 32}, 8 * 128 + 64 * 4, 4 + 32.0 / 32},          // 5
      {{8, true, granularity::channel, 0}, 8 * 256 + 8 * 4, 8 + 32.0 / 256},         // 8.125
      {{8, false, granularity::channel, 0}, 8 * 256 + 8 * 5, 8 + 40.0 / 256},
      {{4, true, granularity::tensor, 0}, 8 * 128 + 4, 4 + 32.0 / 2048},
  };
  for (const auto& e : cases) {
    CAPTURE(describe(e.f));
    memory::peak_scope scope;
    const auto m = quant::quantize_affine(w, e.f);
    CHECK(m.bytes() == e.bytes);
    CHECK(memory::tracker().live_bytes() - scope.start_live_bytes() == e.bytes);
    CHECK(m.bits_per_weight() == e.bits);
  }
  // An odd number of int4 values per row: each row starts on a byte.
  const auto odd =
      quant::quantize_affine(random_normal<2>({3, 5}, gen), {4, true, granularity::channel, 0});
  CHECK(odd.row_bytes == 3);
  CHECK(odd.bytes() == 3 * 3 + 3 * 4);
}

TEST_CASE("affine: bad input and formats are named") {
  using memlab::invalid_argument;
  const auto w = tensor<2>(std::array<std::size_t, 2>{4, 100}, 1.0f);
  CHECK_THROWS_WITH_AS(quant::quantize_affine(w, {4, true, granularity::group, 48}),
                       "group = 48: expected a divisor of cols = 100", invalid_argument);
  CHECK_THROWS_WITH_AS(quant::quantize_affine(w, {4, true, granularity::group, 0}),
                       "group = 0: expected a positive number of values per scale",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(quant::quantize_affine(w, {3, true, granularity::channel, 0}),
                       "bits = 3: expected 8 or 4", invalid_argument);
  CHECK_THROWS_WITH_AS(
      quant::quantize_affine(tensor<2>::from_shape({3, 0}), {8, true, granularity::channel, 0}),
      "weights.shape = [3, 0]: expected at least one value", invalid_argument);
  auto bad = w;
  bad(2, 17) = INFINITY;
  CHECK_THROWS_WITH_AS(quant::quantize_affine(bad, {8, false, granularity::channel, 0}),
                       "weights[2, 17] = inf: expected a finite value", invalid_argument);
  CHECK_THROWS_WITH_AS(quant::parse_granularity("row"),
                       "granularity = row: expected one of tensor, channel, group",
                       invalid_argument);
}

TEST_CASE("formats by name: every one quantizes, restores and reports its storage") {
  rng gen(4);
  const auto w = random_normal<2>({6, 128}, gen, 0.02f);
  const std::size_t n = 6 * 128;
  // bytes per format on [6, 128] (int8/int4 with the default granularity: group 128 = one per row)
  const std::vector<std::size_t> expected_bytes = {
      n * 4,
      n * 2,  // fp32, fp16
      n + 6 * 4,
      n + 6 * 5,  // int8_sym, int8_asym
      n / 2 + 6 * 4,
      n / 2 + 6 * 5,  // int4_sym, int4_asym
      n / 32 * 34,
      n / 32 * 18,
      n / 32 * 20,  // q8_0, q4_0, q4_1
      n / 2 + n / 64 * 4,
      n / 2 + n / 64 + 4 + 4,  // nf4, nf4_dq (12 absmax: one 256-block)
  };
  const auto& names = quant::format_names();
  REQUIRE(names.size() == expected_bytes.size());
  for (std::size_t i = 0; i < names.size(); ++i) {
    CAPTURE(names[i]);
    memory::peak_scope scope;
    const auto m = quant::quantized_matrix::quantize(w, quant::parse_format(names[i]));
    CHECK(quant::name(m.fmt().kind) == names[i]);
    CHECK(m.bytes() == expected_bytes[i]);
    CHECK(memory::tracker().live_bytes() - scope.start_live_bytes() == expected_bytes[i]);
    CHECK(m.bits_per_weight() == 8.0 * expected_bytes[i] / n);
    const auto e = quant::measure_error(w, m.dequantize());
    CHECK(e.rel_frobenius < (i == 0 ? 1e-12 : 0.2));
  }
  CHECK(quant::describe(quant::parse_format("int4_asym")) == "int4_asym group 128");
  CHECK(quant::describe(quant::parse_format("nf4_dq")) == "nf4_dq block 64");
  CHECK_THROWS_WITH_AS(
      quant::parse_format("q3_0"),
      "format = q3_0: expected one of fp32, fp16, int8_sym, int8_asym, int4_sym, int4_asym, "
      "q8_0, q4_0, q4_1, nf4, nf4_dq",
      memlab::invalid_argument);
}
