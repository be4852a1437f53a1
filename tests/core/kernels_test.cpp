// core's internal kernels header: the vectorizable approximations against the
// standard library in double precision, and every vector kernel against its
// plain reference (kernels::ref).
#include "base/kernels.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <utility>
#include <vector>

#include "base/random.hpp"

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

TEST_CASE("exp_approx on a vfloat gives each lane the bits of exp_approx on a float") {
  // flash attention's softmax takes the vector form, the decoding path the scalar one.
  for (int i = 0; i < 200000; i += static_cast<int>(kernels::lanes)) {
    float x[kernels::lanes];
    for (std::size_t l = 0; l < kernels::lanes; ++l)
      x[l] = -100.0f + 1e-3f * static_cast<float>(i + static_cast<int>(l));
    const kernels::vfloat e = kernels::exp_approx(kernels::load(x));
    for (std::size_t l = 0; l < kernels::lanes; ++l) {
      CAPTURE(x[l]);
      CHECK(e[l] == kernels::exp_approx(x[l]));
    }
  }
}

TEST_CASE("greater_of, lesser_of and clamp on a vfloat: each lane is the select on its floats") {
  // In wasm these are f32x4.pmax / pmin (not clang's own lowering of the
  // selects): the same lanes as a > b ? a : b and a < b ? a : b, NaN and ±0
  // included, which is what the softmax's running max and exp_approx's clamp
  // were written as.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float values[] = {-3.0f, -0.0f, 0.0f, 1.5f, 2.0f, -90.0f, 100.0f, nan};
  constexpr std::size_t count = sizeof values / sizeof values[0];
  float a[kernels::lanes], b[kernels::lanes];
  for (std::size_t start = 0; start < count * count; start += kernels::lanes) {
    for (std::size_t l = 0; l < kernels::lanes; ++l) {
      const std::size_t pair = (start + l) % (count * count);
      a[l] = values[pair / count];
      b[l] = values[pair % count];
    }
    const kernels::vfloat greater = kernels::greater_of(kernels::load(a), kernels::load(b));
    const kernels::vfloat lesser = kernels::lesser_of(kernels::load(a), kernels::load(b));
    const kernels::vfloat clamped = kernels::clamp(kernels::load(a), -87.0f, 88.0f);
    for (std::size_t l = 0; l < kernels::lanes; ++l) {
      CAPTURE(a[l]);
      CAPTURE(b[l]);
      // bit for bit: -0 and +0 compare equal, NaNs never do
      CHECK(kernels::bits_of(greater[l]) == kernels::bits_of(a[l] > b[l] ? a[l] : b[l]));
      CHECK(kernels::bits_of(lesser[l]) == kernels::bits_of(a[l] < b[l] ? a[l] : b[l]));
      // a NaN stays a NaN (std::min/max in wasm, f32.min/max, may flip its sign bit)
      const float want = kernels::clamp(a[l], -87.0f, 88.0f);
      if (std::isnan(want))
        CHECK(std::isnan(clamped[l]));
      else
        CHECK(kernels::bits_of(clamped[l]) == kernels::bits_of(want));
    }
  }
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

// ---- every vector kernel against its plain reference (kernels::ref) --------
//
// Sizes cover every tail path: rows 1..9 (the register blocks of 8 and 2 rows
// and the single rows left over) times widths 1..70 (whole 16-float chunks,
// 4-float pieces and single floats). Inputs are small integers, so every
// product and every partial sum is exact in fp32 and the kernels, whatever
// order they add in (and with or without fused multiply-adds), must equal the
// references bit for bit.

namespace {

// n integers in [-8, 8] as floats.
std::vector<float> small_ints(std::size_t n, rng& gen) {
  std::vector<float> x(n);
  for (float& v : x) v = static_cast<float>(static_cast<int>(gen.next_u64() % 17) - 8);
  return x;
}

constexpr float sentinel = 1234.5f;  // fills padding that no kernel may write

}  // namespace

TEST_CASE("dot and axpy equal their references for widths 1..70") {
  rng gen(11);
  for (std::size_t n = 1; n <= 70; ++n) {
    CAPTURE(n);
    const auto a = small_ints(n, gen), b = small_ints(n, gen);
    CHECK(kernels::dot(a.data(), b.data(), n) == kernels::ref::dot(a.data(), b.data(), n));
    auto y = small_ints(n, gen);
    y.push_back(sentinel);
    auto want = y;
    kernels::axpy(y.data(), -3.0f, a.data(), n);
    kernels::ref::axpy(want.data(), -3.0f, a.data(), n);
    CHECK(y == want);
  }
}

TEST_CASE("max_of and exp_shifted_sum equal their references for widths 1..70") {
  rng gen(12);
  for (std::size_t n = 1; n <= 70; ++n) {
    CAPTURE(n);
    auto x = random_normal<1>({n}, gen, 2.0f);
    x[gen.next_u64() % n] = 20.0f;  // the maximum anywhere, tails included
    CHECK(kernels::max_of(x.data(), n) == kernels::ref::max_of(x.data(), n));
    CHECK(kernels::max_of(x.data(), n) == 20.0f);
    std::vector<float> e(x.begin(), x.end()), want = e;
    const float sum = kernels::exp_shifted_sum(e.data(), 20.0f, n);
    const float want_sum = kernels::ref::exp_shifted_sum(want.data(), 20.0f, n);
    CHECK(e == want);
    // Sums of n positive terms in two orders: each within n ulps of the true sum.
    CHECK(sum == doctest::Approx(want_sum).epsilon(2e-7 * static_cast<double>(n)));
  }
}

TEST_CASE("reduce_add4 gives each vector the bits of reduce_add, on floats of any size") {
  rng gen(14);
  for (int trial = 0; trial < 100; ++trial) {
    kernels::vfloat v[4];
    for (auto& x : v)
      for (std::size_t l = 0; l < kernels::lanes; ++l) x[l] = gen.normal() * (1 + trial);
    const kernels::vfloat4 sums = kernels::reduce_add4(v[0], v[1], v[2], v[3]);
    for (std::size_t x = 0; x < 4; ++x) CHECK(sums[x] == kernels::reduce_add(v[x]));
  }
}

TEST_CASE("scaled_dots equals its reference for keys 1..9 x head_dim 1..70") {
  rng gen(13);
  for (std::size_t keys = 1; keys <= 9; ++keys)
    for (std::size_t d = 1; d <= 70; ++d) {
      CAPTURE(keys);
      CAPTURE(d);
      const auto q = small_ints(d, gen), k = small_ints(keys * d, gen);
      std::vector<float> s(keys + 1, sentinel), want(keys + 1, sentinel);
      kernels::scaled_dots(q.data(), k.data(), keys, d, 0.125f, s.data());
      kernels::ref::scaled_dots(q.data(), k.data(), keys, d, 0.125f, want.data());
      CHECK(s == want);
    }
}

namespace {

// C += A B on strided storage (lda, ldb, ldc wider than the matrices, the
// padding holding the sentinel) by `product`, against the reference. With
// layout::columns a is stored transposed, [inner, rows].
template <class Product>
void check_matmul(std::size_t rows, std::size_t inner, std::size_t width, rng& gen, Product product,
                  kernels::layout layout = kernels::layout::rows) {
  const bool by_rows = layout == kernels::layout::rows;
  const std::size_t lda = (by_rows ? inner : rows) + 3, ldb = width + 5, ldc = width + 2;
  const auto a = small_ints((by_rows ? rows : inner) * lda, gen), b = small_ints(inner * ldb, gen);
  auto c = small_ints(rows * ldc, gen);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t col = width; col < ldc; ++col) c[r * ldc + col] = sentinel;
  auto want = c;
  product(a.data(), lda, b.data(), ldb, c.data(), ldc);
  if (by_rows)
    kernels::ref::matmul_accumulate(a.data(), lda, rows, inner, b.data(), ldb, want.data(), ldc,
                                    width);
  else
    kernels::ref::matmul_at_accumulate(a.data(), lda, rows, inner, b.data(), ldb, want.data(), ldc,
                                       width);
  CHECK(c == want);
}

template <std::size_t R, std::size_t C, kernels::layout L>
void check_matmul_rows(rng& gen) {
  for (std::size_t inner : {1, 3, 17})
    for (std::size_t width = 1; width <= 70; ++width) {
      CAPTURE(R);
      CAPTURE(C);
      CAPTURE(L == kernels::layout::rows ? "a by rows" : "a by columns");
      CAPTURE(inner);
      CAPTURE(width);
      check_matmul(
          R, inner, width, gen,
          [&](const float* a, std::size_t lda, const float* b, std::size_t ldb, float* c,
              std::size_t ldc) {
            kernels::matmul_rows<R, C, L>(a, lda, inner, b, ldb, c, ldc, width);
          },
          L);
    }
}

template <kernels::layout L, std::size_t... R>
void check_matmul_rows_1_to_9(rng& gen, std::index_sequence<R...>) {
  (check_matmul_rows<R + 1, 1, L>(gen), ...);
  (check_matmul_rows<R + 1, 2, L>(gen), ...);
  (check_matmul_rows<R + 1, 4, L>(gen), ...);
}

}  // namespace

TEST_CASE("matmul_rows<R, C, L> equals its reference for R 1..9, C 1, 2, 4 x widths 1..70") {
  rng gen(14);
  check_matmul_rows_1_to_9<kernels::layout::rows>(gen, std::make_index_sequence<9>{});
  check_matmul_rows_1_to_9<kernels::layout::columns>(gen, std::make_index_sequence<9>{});
}

// matmul_accumulate (A by rows) or matmul_at_accumulate (A by columns, Aᵀ B)
// over rows 1..9, a few inner sizes and widths 1..70: every tail of the blocks.
template <kernels::layout L>
void check_accumulate_as(rng& gen) {
  for (std::size_t rows = 1; rows <= 9; ++rows)
    for (std::size_t inner : {1, 2, 7, 33})
      for (std::size_t width = 1; width <= 70; ++width) {
        CAPTURE(rows);
        CAPTURE(inner);
        CAPTURE(width);
        check_matmul(
            rows, inner, width, gen,
            [&](const float* a, std::size_t lda, const float* b, std::size_t ldb, float* c,
                std::size_t ldc) {
              kernels::matmul_accumulate_as<L>(a, lda, rows, inner, b, ldb, c, ldc, width);
            },
            L);
      }
}

TEST_CASE("matmul_accumulate equals its reference for rows 1..9 x widths 1..70") {
  rng gen(15);
  check_accumulate_as<kernels::layout::rows>(gen);
}

TEST_CASE("matmul_at_accumulate equals its reference for rows 1..9 x widths 1..70") {
  rng gen(17);
  check_accumulate_as<kernels::layout::columns>(gen);
}

TEST_CASE("matvec_accumulate equals its reference for inner 1..9 x widths 1..70") {
  rng gen(16);
  for (std::size_t inner = 1; inner <= 9; ++inner)
    for (std::size_t width = 1; width <= 70; ++width) {
      CAPTURE(inner);
      CAPTURE(width);
      check_matmul(1, inner, width, gen,
                   [&](const float* a, std::size_t, const float* b, std::size_t ldb, float* c,
                       std::size_t) { kernels::matvec_accumulate(a, inner, b, ldb, c, width); });
    }
}
