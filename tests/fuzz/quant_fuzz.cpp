// quant_fuzz.cpp — libFuzzer target: every quantization format, chosen by name,
// on matrices of any shape and values.
//
// The input picks a format name (one of quant::format_names(), or a bad one), its
// settings (granularity and group for the affine formats, block for NF4: any,
// dividing or not), a shape [rows, cols] (0 included) and the values (NaN,
// infinities, huge and subnormal ones included). quantized_matrix::quantize
// must refuse the input with memlab::invalid_argument or give a matrix such that:
//   - its bytes() are exactly the tracked bytes it holds, and
//     bits_per_weight() = 8 · bytes() / (rows · cols);
//   - dequantize() is [rows, cols], every value finite, each within the range
//     the format can reach for its row: |ŵ - w| <= 2 · max |w| of the row (a
//     scale, a zero point or an fp16 rounding past it is a bug), and exact for
//     fp32;
//   - the format's matrix-vector kernel agrees with its plain reference on a
//     vector from the input, relative to sum |ŵ x| of each row.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>

#include "base/error.hpp"
#include "base/memory.hpp"
#include "fuzz_input.hpp"
#include "quant/matrix.hpp"

namespace memlab::fuzz {
namespace {

void check(const tensor<2>& w, const quant::format& f) {
  const std::size_t before = memory::tracker().live_bytes();
  const auto q = quant::quantized_matrix::quantize(w, f);
  const std::size_t rows = w.shape(0), cols = w.shape(1);
  const std::string name = quant::describe(f);
  if (memory::tracker().live_bytes() - before != q.bytes())
    fail(name + ": bytes() is not the tracked storage");
  if (q.bits_per_weight() != 8.0 * double(q.bytes()) / double(rows * cols))
    fail(name + ": bits_per_weight() is not 8 · bytes / values");
  const tensor<2> w_hat = q.dequantize();
  if (w_hat.shape() != w.shape()) fail(name + ": dequantize() has another shape");
  // An error is at most twice the largest |w| its scale covers: the row's, or for
  // nf4_dq the whole matrix's (each block's absmax is stored as an 8-bit code
  // around the mean absmax, scaled by its group of 256 blocks: a small row next
  // to huge ones gets an absmax off by a share of theirs).
  double global = 0;
  for (const float x : w) global = std::max(global, double(std::abs(x)));
  for (std::size_t r = 0; r < rows; ++r) {
    double amax = 0;
    for (std::size_t c = 0; c < cols; ++c) amax = std::max(amax, double(std::abs(w(r, c))));
    if (f.kind == quant::scheme::nf4_dq) amax = global;
    for (std::size_t c = 0; c < cols; ++c) {
      const double got = w_hat(r, c), want = w(r, c);
      if (!std::isfinite(got))
        fail(name + ": dequantized value at [" + std::to_string(r) + ", " + std::to_string(c) +
             "] is not finite (w = " + std::to_string(want) + ")");
      if (std::abs(got - want) > 2 * amax * (1 + 1e-6))
        fail(name + ": |ŵ - w| = " + std::to_string(std::abs(got - want)) + " at [" +
             std::to_string(r) + ", " + std::to_string(c) + "], max |w| its scale covers " +
             std::to_string(amax));
      if (f.kind == quant::scheme::fp32 && got != want) fail("fp32: not exact");
    }
  }
  tensor<1> x = tensor<1>::from_shape({cols});
  for (std::size_t c = 0; c < cols; ++c) x(c) = float(int(c * 37 % 17) - 8) / 8;
  const tensor<1> y = q.matvec(x), y_ref = q.matvec_reference(x);
  for (std::size_t r = 0; r < rows; ++r) {
    double scale = 0;
    for (std::size_t c = 0; c < cols; ++c) scale += std::abs(double(w_hat(r, c)) * x(c));
    // Every partial sum of the row is within ±scale: past FLT_MAX an fp32 sum
    // may overflow in one order and not another (the kernel's lanes gave -inf
    // where the reference's double sum was -1.1e38), so only the finite ones
    // are compared there.
    if (scale > std::numeric_limits<float>::max() && !std::isfinite(y(r))) continue;
    if (std::abs(double(y(r)) - y_ref(r)) > 1e-4 * std::max(scale, 1e-30) + 1e-30)
      fail(name + ": the kernel differs from the reference at row " + std::to_string(r) + ": " +
           std::to_string(y(r)) + " vs " + std::to_string(y_ref(r)));
  }
}

}  // namespace

int fuzz_quant(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  const auto& names = quant::format_names();
  const std::size_t pick = in.below(names.size() + 1);
  const std::string name = pick < names.size() ? names[pick] : "q5_0";
  const std::size_t rows = in.below(5), cols = in.below(4) ? 32 * in.below(9) : in.below(300);
  try {
    quant::format f = quant::parse_format(name);
    if (quant::is_affine(f.kind)) {
      const char* scopes[] = {"tensor", "channel", "group", "row"};
      f.scope = quant::parse_granularity(scopes[in.byte() % 4]);
      f.group = in.byte() % 4 ? std::size_t(8) << in.below(5) : in.below(70);
    }
    if (f.kind == quant::scheme::nf4 || f.kind == quant::scheme::nf4_dq)
      f.block = in.byte() % 4 ? 64 : in.below(130);
    tensor<2> w = tensor<2>::from_shape({rows, cols});
    for (float& v : w) v = in.value();
    check(w, f);
  } catch (const memlab::invalid_argument&) {
    // refused, naming what is wrong
  }
  return 0;
}

}  // namespace memlab::fuzz

#ifdef MEMLAB_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memlab::fuzz::fuzz_quant(data, size);
}
#endif
