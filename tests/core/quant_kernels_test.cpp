// The quantized dot products' chunk kernels (quant/kernels.hpp) against their
// plain references (qkernels::ref), over every code value, and the row
// products built on them over every tail: rows 1..9 x cols 1..70 for the
// formats that take any width, 1..9 blocks of 32 for ggml's.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/random.hpp"
#include "quant/kernels.hpp"
#include "quant/matrix.hpp"

using namespace memlab;

namespace {

std::vector<std::int8_t> int8s(std::size_t n, rng& gen) {  // Q8_0's range, -127..127
  std::vector<std::int8_t> v(n);
  for (auto& x : v) x = static_cast<std::int8_t>(static_cast<int>(gen.next_u64() % 255) - 127);
  return v;
}

std::vector<std::uint8_t> bytes(std::size_t n, rng& gen) {
  std::vector<std::uint8_t> v(n);
  for (auto& x : v) x = static_cast<std::uint8_t>(gen.next_u64());
  return v;
}

// Integers in [-8, 8] as floats: code · x products and their sums are exact.
std::vector<float> small_ints(std::size_t n, rng& gen) {
  std::vector<float> x(n);
  for (float& v : x) v = static_cast<float>(static_cast<int>(gen.next_u64() % 17) - 8);
  return x;
}

}  // namespace

TEST_CASE("Q8_0 and Q4_0/Q4_1 block dot products equal the integer references") {
  rng gen(21);
  for (int trial = 0; trial < 300; ++trial) {
    CAPTURE(trial);
    auto a = int8s(32, gen), b = int8s(32, gen);
    if (trial == 0) a.assign(32, 127), b.assign(32, 127);   // the largest sums,
    if (trial == 1) a.assign(32, -127), b.assign(32, 127);  // of both signs
    const auto qs = trial == 2 ? std::vector<std::uint8_t>(16, 0xFF) : bytes(16, gen);
    // the activations' codes as the kernels take them (int16 in wasm, and
    // rearranged for the Q4 kernels there)
    const std::vector<qkernels::act> bx(b.begin(), b.end());
    std::vector<qkernels::act> b4(32);
    qkernels::arrange_for_q4(b.data(), b4.data());
    // Integers below 2^24: the float lanes sum to them exactly.
    CHECK(qkernels::hsum(qkernels::dot_q8_q8(a.data(), bx.data())) ==
          static_cast<float>(qkernels::ref::dot_q8_q8(a.data(), b.data())));
    CHECK(qkernels::hsum(qkernels::dot_q4_q8(qs.data(), b4.data())) ==
          static_cast<float>(qkernels::ref::dot_q4_q8(qs.data(), b.data())));
  }
}

TEST_CASE("a block scale's fp16 -> fp32 conversion equals fp16::to_float for every value") {
  for (std::uint32_t h = 0; h < 0x10000; ++h) {
    const float expected = fp16::to_float(static_cast<fp16::half>(h));
    const float got = qkernels::half_to_float(static_cast<fp16::half>(h));
    if (std::isnan(expected)) {
      CHECK(std::isnan(got));
    } else if (fp16::bits_of(got) != fp16::bits_of(expected)) {
      CAPTURE(h);  // captured only on a failure: 65536 checks would swamp doctest's counts
      CHECK(got == expected);
    }
  }
}

TEST_CASE("four block scales at once equal fp16::to_float times the activation scales") {
  // every fp16 value as a weight scale, against activation scales that make each
  // product exact or rounded (3 and 1/3), and the portable conversion on its own
  struct block {
    fp16::half d;
  };
  std::vector<block> w(4);
  const float dx[4] = {1.0f, 3.0f, 1.0f / 3.0f, -2.0f};
  for (std::uint32_t h = 0; h < 0x10000; h += 4) {
    for (std::uint32_t k = 0; k < 4; ++k) w[k].d = static_cast<fp16::half>(h + k);
    const qkernels::f32x4 s = qkernels::block_scales(w.data(), dx);
    const qkernels::f32x4 c = qkernels::to_float4(qkernels::u32x4{h, h + 1, h + 2, h + 3} << 16);
    for (std::uint32_t k = 0; k < 4; ++k) {
      const float d = fp16::to_float(w[k].d);
      if (std::isnan(d)) {
        CHECK((std::isnan(s[k]) && std::isnan(c[k])));
      } else if (fp16::bits_of(s[k]) != fp16::bits_of(d * dx[k]) ||
                 fp16::bits_of(c[k]) != fp16::bits_of(d)) {
        CAPTURE(h + k);  // captured only on a failure, as above
        CHECK(s[k] == d * dx[k]);
        CHECK(c[k] == d);
      }
    }
  }
}

TEST_CASE("affine int8/int4 and NF4 chunk dot products equal their references") {
  rng gen(22);
  for (int trial = 0; trial < 300; ++trial) {
    CAPTURE(trial);
    const auto c = bytes(16, gen);
    const auto x = small_ints(16, gen);
    for (int zero : {0, 7, 128, 255}) {
      CAPTURE(zero);
      CHECK(qkernels::hsum(qkernels::dot_u8_f32(c.data(), zero, x.data())) ==
            qkernels::ref::dot_u8_f32(c.data(), zero, x.data()));
      CHECK(qkernels::hsum(qkernels::dot_u4_f32(c.data(), zero % 16, x.data())) ==
            qkernels::ref::dot_u4_f32(c.data(), zero % 16, x.data()));
    }
    // NF4 codes are not integers: the two orders of summing 16 products agree
    // to within 16 units of 2^-24 of the summed magnitudes.
    double magnitude = 0;
    for (std::size_t j = 0; j < 16; ++j)
      magnitude += std::fabs(nf4::code[qkernels::ref::nibble(c.data(), j, false)] * x[j]);
    CHECK(std::fabs(qkernels::hsum(qkernels::dot_nf4_f32(c.data(), x.data())) -
                    qkernels::ref::dot_nf4_f32(c.data(), x.data())) <= 16 * 0x1p-24 * magnitude);
  }
}

TEST_CASE("the fp16 dot product equals its reference for widths 1..70") {
  rng gen(23);
  for (std::size_t n = 1; n <= 70; ++n) {
    CAPTURE(n);
    const auto x = small_ints(n, gen), wf = small_ints(n, gen);
    std::vector<fp16::half> w(n);
    for (std::size_t c = 0; c < n; ++c) w[c] = fp16::from_float(wf[c]);
    CHECK(qkernels::dot_f16_f32(w.data(), x.data(), n) ==
          qkernels::ref::dot_f16_f32(w.data(), x.data(), n));
  }
}

TEST_CASE("sum_chunks adds 0..9 chunks, odd counts included") {
  // Chunk k: 16 codes of 1 against 16 values of k + 1, so its lanes sum to 16 (k + 1).
  const std::vector<std::uint8_t> ones(16, 1);
  std::vector<float> x(16 * 9);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i / 16 + 1);
  for (std::size_t chunks = 0; chunks <= 9; ++chunks) {
    CAPTURE(chunks);
    const qkernels::fvec sum = qkernels::sum_chunks(chunks, [&](std::size_t k) {
      return qkernels::dot_u8_f32(ones.data(), 0, x.data() + 16 * k);
    });
    CHECK(qkernels::hsum(sum) == static_cast<float>(8 * chunks * (chunks + 1)));
  }
}

namespace {

// max_r |a[r] - b[r]| relative to max_r Σ_c |ŵ[r, c] x[c]|.
double relative_diff(const tensor<1>& a, const tensor<1>& b, const tensor<2>& w,
                     const tensor<1>& x) {
  double diff = 0, scale = 1e-30;
  for (std::size_t r = 0; r < a.size(); ++r) {
    diff = std::max(diff, std::fabs(double(a[r]) - b[r]));
    double s = 0;
    for (std::size_t c = 0; c < x.size(); ++c) s += std::fabs(double(w(r, c)) * x[c]);
    scale = std::max(scale, s);
  }
  return diff / scale;
}

void check_product(const std::string& name, const quant::format& f, std::size_t rows,
                   std::size_t cols, rng& gen) {
  CAPTURE(name);
  CAPTURE(rows);
  CAPTURE(cols);
  const auto w = random_normal<2>({rows, cols}, gen);
  const auto x = random_normal<1>({cols}, gen);
  const auto m = quant::quantized_matrix::quantize(w, f);
  CHECK(relative_diff(m.matvec(x), m.matvec_reference(x), m.dequantize(), x) <= 1e-5);
}

}  // namespace

TEST_CASE("affine, fp16 and NF4 products equal their references for rows 1..9 x cols 1..70") {
  rng gen(24);
  for (std::size_t rows = 1; rows <= 9; ++rows)
    for (std::size_t cols = 1; cols <= 70; ++cols) {
      check_product("fp16", quant::parse_format("fp16"), rows, cols, gen);
      for (const char* name : {"int8_sym", "int8_asym", "int4_sym", "int4_asym"}) {
        quant::format f = quant::parse_format(name);
        f.scope = quant::granularity::channel;
        check_product(name, f, rows, cols, gen);
        // Groups of 3 (odd: int4 groups that start mid-byte) or 5, when they divide cols.
        for (std::size_t group : {3, 5})
          if (cols % group == 0) {
            f.scope = quant::granularity::group;
            f.group = group;
            check_product(std::string(name) + " group " + std::to_string(group), f, rows, cols,
                          gen);
          }
      }
      if (cols % 2 == 0) {  // NF4 blocks are even; one block per row, or blocks of 2
        quant::format f = quant::parse_format("nf4");
        for (std::size_t block : {cols, std::size_t{2}}) {
          f.block = block;
          check_product("nf4 block " + std::to_string(block), f, rows, cols, gen);
        }
      }
    }
}

TEST_CASE("Q8_0, Q4_0, Q4_1 products equal ggml's references for rows 1..9 x 1..9 blocks") {
  rng gen(25);
  for (std::size_t rows = 1; rows <= 9; ++rows)
    for (std::size_t blocks = 1; blocks <= 9; ++blocks)
      for (const char* name : {"q8_0", "q4_0", "q4_1"})
        check_product(name, quant::parse_format(name), rows, 32 * blocks, gen);
}
