// NF4 and double quantization: the code book against its construction from
// normal quantiles, bitsandbytes' thresholds, packing order, error bounds and the
// exact bits per parameter of QLoRA.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "base/error.hpp"
#include "base/random.hpp"
#include "quant/nf4.hpp"

using namespace memlab;

namespace {

// Inverse of the standard normal CDF by bisection on 0.5·erfc(-x/√2).
double normal_ppf(double p) {
  double lo = -10, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(-mid / std::sqrt(2.0)) < p ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

}  // namespace

TEST_CASE("NF4 code book: bitsandbytes' create_normal_map, rebuilt from normal quantiles") {
  // create_normal_map(offset=0.9677083, use_extra_value=True): 8 positive values
  // ppf(linspace(offset, 0.5, 9)[:-1]), 7 negative -ppf(linspace(offset, 0.5, 8)[:-1]),
  // and 0, sorted and divided by the largest.
  const double offset = 0.9677083;
  std::vector<double> v = {0.0};
  for (int k = 0; k < 8; ++k) v.push_back(normal_ppf(offset + (0.5 - offset) * k / 8));
  for (int k = 0; k < 7; ++k) v.push_back(-normal_ppf(offset + (0.5 - offset) * k / 7));
  std::sort(v.begin(), v.end());
  for (std::size_t i = 0; i < 16; ++i) {
    CAPTURE(i);
    CHECK(nf4::code[i] == doctest::Approx(v[i] / v.back()).epsilon(1e-6));
  }
  CHECK(nf4::code[0] == -1.0f);
  CHECK(nf4::code[7] == 0.0f);
  CHECK(nf4::code[15] == 1.0f);
}

TEST_CASE("NF4 thresholds: midpoints of neighbouring codes, and the nearest code") {
  for (std::size_t i = 0; i < 15; ++i) {
    CAPTURE(i);
    const float t = nf4::thresholds()[i];
    const double mid = (double(nf4::code[i]) + double(nf4::code[i + 1])) / 2;
    CHECK(std::fabs(t - mid) <= std::fabs(std::nextafter(t, 2.0f) - t));  // within one ulp
    // x > threshold picks the upper code; the threshold itself the lower one.
    CHECK(int(nf4::nearest_code(t)) == int(i));
    CHECK(int(nf4::nearest_code(std::nextafter(t, 2.0f))) == int(i + 1));
  }
  for (std::size_t k = 0; k < 16; ++k) CHECK(int(nf4::nearest_code(nf4::code[k])) == int(k));
  CHECK(int(nf4::nearest_code(-5.0f)) == 0);
  CHECK(int(nf4::nearest_code(5.0f)) == 15);
  // Nearest, away from the thresholds: 0.3 lies between 0.2461 and 0.3379, nearer the latter.
  CHECK(int(nf4::nearest_code(0.3f)) == 11);
  CHECK(int(nf4::nearest_code(-0.85f)) == 0);
}

TEST_CASE("NF4 packs two codes per byte, the even value in the high nibble") {
  // A row whose values are absmax · code[k] for a chosen k: codes are exact.
  const int ks[8] = {15, 0, 7, 3, 12, 9, 1, 14};
  tensor<2> w = tensor<2>::from_shape({1, 64});
  for (std::size_t c = 0; c < 64; ++c) w(0, c) = 0.5f * nf4::code[ks[c % 8]];
  const auto m = nf4::quantize(w, 64);
  REQUIRE(m.codes.size() == 32);
  CHECK(m.absmax[0] == 0.5f);
  for (std::size_t i = 0; i < 32; ++i) {
    CAPTURE(i);
    CHECK(int(m.codes[i]) == (ks[(2 * i) % 8] << 4 | ks[(2 * i + 1) % 8]));
  }
  const auto back = nf4::dequantize(m);
  for (std::size_t c = 0; c < 64; ++c) CHECK(back(0, c) == w(0, c));
}

TEST_CASE("NF4: every value within half the largest code gap of the block's absmax") {
  float max_gap = 0;
  for (std::size_t k = 0; k + 1 < 16; ++k)
    max_gap = std::max(max_gap, nf4::code[k + 1] - nf4::code[k]);
  CHECK(max_gap == doctest::Approx(1 - 0.6961928009986877));  // -1 to the next code
  rng gen(8);
  const auto w = random_normal<2>({16, 256}, gen, 0.02f);
  const auto m = nf4::quantize(w, 64);
  const auto back = nf4::dequantize(m);
  for (std::size_t i = 0; i < w.size(); ++i) {
    const double absmax = m.absmax[i / 64];
    REQUIRE(std::fabs(double(w.data()[i]) - back.data()[i]) <= absmax * max_gap / 2 * (1 + 1e-6));
  }
}

TEST_CASE("dynamic map: bitsandbytes' signed 8-bit dynamic tree code, by hand") {
  const auto& map = nf4::dynamic_map();
  for (std::size_t i = 0; i + 1 < 256; ++i) REQUIRE(map[i] < map[i + 1]);
  // The largest decade has 64 values at the midpoints of linspace(0.1, 1, 65):
  // its top one is (1 + 1 - 0.9/64) / 2 = 0.99296875; the smallest decade one value,
  // 10^-6 · (0.1 + 1) / 2.
  CHECK(map[0] == -0.99296875f);
  CHECK(map[255] == 1.0f);
  CHECK(map[254] == 0.99296875f);
  CHECK(map[127] == 0.0f);
  CHECK(map[128] == doctest::Approx(0.55e-6).epsilon(1e-6));
  CHECK(map[126] == doctest::Approx(-0.55e-6).epsilon(1e-6));
  CHECK(int(nf4::nearest_dynamic(0.0f)) == 127);
  CHECK(int(nf4::nearest_dynamic(1.0f)) == 255);
  CHECK(int(nf4::nearest_dynamic(-1.0f)) == 0);
  // A tie between two neighbours goes up: halfway between 0 and map[128] exactly.
  CHECK(int(nf4::nearest_dynamic(map[128] / 2)) == 128);
  CHECK(int(nf4::nearest_dynamic(std::nextafter(map[128] / 2, 0.0f))) == 127);
}

TEST_CASE("NF4 bits per weight: 4.5 plain, 4.127 with double quantization (QLoRA), exact") {
  CHECK(nf4::qlora_bits_per_weight(64, false) == 4.5);
  CHECK(nf4::qlora_bits_per_weight(64, true) == 4.126953125);  // 4 + 8/64 + 32/(64·256)
  CHECK(std::round(nf4::qlora_bits_per_weight(64, true) * 1000) / 1000 == 4.127);

  rng gen(1);
  const auto w = random_normal<2>({64, 4096}, gen, 0.02f);  // 4096 blocks of 64
  const std::size_t n = 64 * 4096;
  memory::peak_scope scope;
  {
    const auto m = nf4::quantize(w, 64, false);
    CHECK(m.bytes() == n / 2 + 4096 * 4);
    CHECK(memory::tracker().live_bytes() - scope.start_live_bytes() == m.bytes());
    CHECK(m.bits_per_weight() == 4.5);
  }
  {
    const auto m = nf4::quantize(w, 64, true);
    // codes + 8-bit absmax codes + 16 fp32 scales (4096 / 256) + the fp32 offset
    const std::size_t bytes = n / 2 + 4096 + 16 * 4 + 4;
    CHECK(m.bytes() == bytes);
    CHECK(memory::tracker().live_bytes() - scope.start_live_bytes() == bytes);
    CHECK(m.bits_per_weight() == 8.0 * bytes / n);
    CHECK(m.bits_per_weight() == doctest::Approx(4.126953125 + 32.0 / n).epsilon(1e-15));
  }
}

TEST_CASE("NF4 double quantization: absmax restored within the 8-bit code's half gap") {
  const auto& map = nf4::dynamic_map();
  float half_gap = 0;
  for (std::size_t i = 0; i + 1 < 256; ++i)
    half_gap = std::max(half_gap, (map[i + 1] - map[i]) / 2);
  rng gen(6);
  auto w = random_normal<2>({32, 1024}, gen, 0.02f);
  w(7, 100) = 0.5f;  // one block with a large absmax
  const auto plain = nf4::quantize(w, 64, false);
  const auto dq = nf4::quantize(w, 64, true);
  double mean = 0;
  for (float a : plain.absmax) mean += a;
  mean /= double(plain.absmax.size());
  CHECK(dq.offset[0] == doctest::Approx(mean).epsilon(1e-6));
  for (std::size_t b = 0; b < plain.blocks(); ++b) {
    CAPTURE(b);
    const double scale = dq.absmax_scales[b / 256];
    REQUIRE(std::fabs(double(plain.absmax[b]) - dq.block_absmax(b)) <=
            scale * half_gap * (1 + 1e-6) + 1e-9);
  }
  // The weights' codes are the same with and without: only the absmax differs.
  for (std::size_t i = 0; i < plain.codes.size(); ++i) REQUIRE(plain.codes[i] == dq.codes[i]);
}

TEST_CASE("NF4: bad input is named") {
  using memlab::invalid_argument;
  const auto w = tensor<2>(std::array<std::size_t, 2>{2, 96}, 1.0f);
  CHECK_THROWS_WITH_AS(nf4::quantize(w, 64), "block = 64: expected a divisor of cols = 96",
                       invalid_argument);
  CHECK_THROWS_WITH_AS(nf4::quantize(w, 3), "block = 3: expected a positive even number of values",
                       invalid_argument);
  auto bad = w;
  bad(0, 9) = NAN;
  CHECK_THROWS_WITH_AS(nf4::quantize(bad, 32, true), "weights[0, 9] = nan: expected a finite value",
                       invalid_argument);
}
