// The vectorizable approximations in core's internal kernels header, against
// the standard library computed in double precision.
#include "base/kernels.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <vector>

using namespace memlab;

TEST_CASE("exp_approx: relative error below 2e-7 over the range softmax uses") {
  // Every exponent from the clamp to just below overflow, on a fine grid that
  // also lands on the rounding ties k + 1/2 of x / ln 2.
  double worst = 0;
  for (int i = 0; i <= 1750000; ++i) {
    const float x = -87.0f + 1e-4f * static_cast<float>(i);
    const double want = std::exp(static_cast<double>(x));
    worst = std::max(worst, std::abs(kernels::exp_approx(x) - want) / want);
  }
  CHECK(worst < 2e-7);
  CHECK(kernels::exp_approx(0.0f) == 1.0f);
  CHECK(kernels::exp_approx(0.5f * std::log(2.0f)) ==
        doctest::Approx(std::sqrt(2.0)).epsilon(2e-7));  // a rounding tie of k
  // Clamped, never inf or a denormal: the softmax's masked scores are finite.
  CHECK(kernels::exp_approx(-1e30f) == doctest::Approx(std::exp(-87.0)).epsilon(2e-7));
  CHECK(std::isfinite(kernels::exp_approx(1e30f)));
}

TEST_CASE("tanh_approx: absolute error below 3e-7, saturating to ±1") {
  double worst = 0;
  for (int i = -200000; i <= 200000; ++i) {
    const float x = 1e-4f * static_cast<float>(i);
    worst = std::max(worst, std::abs(kernels::tanh_approx(x) - std::tanh(static_cast<double>(x))));
  }
  CHECK(worst < 3e-7);
  CHECK(kernels::tanh_approx(100.0f) == 1.0f);
  CHECK(kernels::tanh_approx(-100.0f) == -1.0f);
}

TEST_CASE("a loop over exp_approx gives the same values as the calls one by one") {
  // The point of exp_approx is that loops over it vectorize; the vector code
  // must compute exactly what the scalar definition does.
  std::vector<float> x(1000), shifted(1000);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = -60.0f + 0.0713f * static_cast<float>(i);
  shifted = x;
  const float sum = kernels::exp_shifted_sum(shifted.data(), 3.0f, shifted.size());
  double want_sum = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(shifted[i] == kernels::exp_approx(x[i] - 3.0f));
    want_sum += shifted[i];
  }
  CHECK(sum == doctest::Approx(want_sum).epsilon(1e-6));
}
