#include "quant/affine.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <string>

#include "base/error.hpp"

namespace memlab::quant {
namespace {

std::string shape_text(const tensor<2>& t) {
  return "[" + std::to_string(t.shape(0)) + ", " + std::to_string(t.shape(1)) + "]";
}

// The scale and zero point of one group from its range, as in the header.
struct group_params {
  float scale = 0;
  int zero = 0;
};

group_params symmetric_params(float absmax, int bits) {
  const int qmax = (1 << (bits - 1)) - 1;
  return {absmax / static_cast<float>(qmax), 1 << (bits - 1)};
}

group_params asymmetric_params(float lo, float hi, int bits) {
  const int levels = (1 << bits) - 1;
  lo = std::min(lo, 0.0f);
  hi = std::max(hi, 0.0f);
  const float scale = (hi - lo) / static_cast<float>(levels);
  if (scale == 0) return {0, 0};  // an all-zero group: every code 0, every value 0
  const int zero = static_cast<int>(std::round(-lo / scale));
  return {scale, std::clamp(zero, 0, levels)};
}

std::uint8_t encode(float w, const group_params& p, int bits, bool symmetric) {
  if (p.scale == 0) return static_cast<std::uint8_t>(p.zero);
  const int levels = (1 << bits) - 1;
  // Symmetric codes stop one short of 0 (q >= -qmax): clamp to [1, levels] there.
  const int lowest = symmetric ? 1 : 0;
  const int c = static_cast<int>(std::round(w / p.scale)) + p.zero;
  return static_cast<std::uint8_t>(std::clamp(c, lowest, levels));
}

}  // namespace

void check_values(const float* x, std::size_t n, const char* name) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i]))
      require(false, (std::string(name) + "[" + std::to_string(i) + "]").c_str(), x[i],
              "a finite value");
}

void check_weights(const tensor<2>& w, const char* name) {
  require(w.size() > 0, (std::string(name) + ".shape").c_str(), shape_text(w),
          "at least one value");
  const std::size_t cols = w.shape(1);
  for (std::size_t i = 0; i < w.size(); ++i)
    if (!std::isfinite(w.data()[i]))
      require(false,
              (std::string(name) + "[" + std::to_string(i / cols) + ", " +
               std::to_string(i % cols) + "]")
                  .c_str(),
              w.data()[i], "a finite value");
}

void check_range(const tensor<2>& w, double limit, const char* why, const char* name) {
  const std::size_t cols = w.shape(1);
  for (std::size_t i = 0; i < w.size(); ++i)
    if (!(std::abs(w.data()[i]) <= limit)) {
      std::ostringstream expected;
      expected << "at most " << limit << " in magnitude (" << why << ")";
      require(false,
              (std::string(name) + "[" + std::to_string(i / cols) + ", " +
               std::to_string(i % cols) + "]")
                  .c_str(),
              w.data()[i], expected.str());
    }
}

error_figures measure_error(const tensor<2>& original, const tensor<2>& restored) {
  require(restored.shape() == original.shape(), "restored.shape", shape_text(restored),
          "the shape of the original, " + shape_text(original));
  double max_abs = 0, sum_sq = 0, norm_sq = 0;
  for (std::size_t i = 0; i < original.size(); ++i) {
    const double w = original.data()[i];
    const double d = w - static_cast<double>(restored.data()[i]);
    max_abs = std::max(max_abs, std::abs(d));
    sum_sq += d * d;
    norm_sq += w * w;
  }
  error_figures e;
  e.max_abs = max_abs;
  e.rmse = original.size() ? std::sqrt(sum_sq / static_cast<double>(original.size())) : 0;
  e.rel_frobenius = norm_sq > 0 ? std::sqrt(sum_sq / norm_sq) : (sum_sq > 0 ? INFINITY : 0);
  return e;
}

const char* name(granularity g) {
  switch (g) {
    case granularity::tensor:
      return "tensor";
    case granularity::channel:
      return "channel";
    case granularity::group:
      return "group";
  }
  return "?";
}

granularity parse_granularity(const std::string& text) {
  for (granularity g : {granularity::tensor, granularity::channel, granularity::group})
    if (text == name(g)) return g;
  require(false, "granularity", text, "one of tensor, channel, group");
  return granularity::tensor;
}

void check_format(const affine_format& f, std::size_t cols) {
  require(f.bits == 8 || f.bits == 4, "bits", f.bits, "8 or 4");
  if (f.scope == granularity::group) {
    require(f.group > 0, "group", f.group, "a positive number of values per scale");
    require(cols % f.group == 0, "group", f.group, "a divisor of " + named("cols", cols));
  }
}

float affine_matrix::value(std::size_t r, std::size_t c) const {
  const std::size_t g = group_of(r, c);
  return scales[g] * static_cast<float>(static_cast<int>(code(r, c)) - zero_point(g));
}

std::size_t affine_matrix::bytes() const {
  return codes.size() + scales.size() * sizeof(float) + zero_points.size();
}

double affine_matrix::bits_per_weight() const {
  return 8.0 * static_cast<double>(bytes()) / static_cast<double>(rows * cols);
}

affine_matrix quantize_affine(const tensor<2>& w, const affine_format& f) {
  check_weights(w);
  check_range(w, 1e30, "a range max - min and its scale must stay finite in fp32");
  affine_matrix m;
  m.rows = w.shape(0);
  m.cols = w.shape(1);
  check_format(f, m.cols);
  m.format = f;
  m.group_size = f.scope == granularity::tensor    ? m.rows * m.cols
                 : f.scope == granularity::channel ? m.cols
                                                   : f.group;
  m.row_bytes = f.bits == 8 ? m.cols : (m.cols + 1) / 2;
  const std::size_t groups = m.rows * m.cols / m.group_size;
  m.codes.assign(m.rows * m.row_bytes, 0);
  m.scales.resize(groups);
  if (!f.symmetric) m.zero_points.resize(groups);

  // Every group is a contiguous run of the row-major values (a whole tensor, a
  // row, or part of a row), so group g covers values [g·size, (g+1)·size).
  const float* values = w.data();
  for (std::size_t g = 0; g < groups; ++g) {
    const float* v = values + g * m.group_size;
    float lo = v[0], hi = v[0], absmax = 0;
    for (std::size_t i = 0; i < m.group_size; ++i) {
      lo = std::min(lo, v[i]);
      hi = std::max(hi, v[i]);
      absmax = std::max(absmax, std::abs(v[i]));
    }
    const group_params p =
        f.symmetric ? symmetric_params(absmax, f.bits) : asymmetric_params(lo, hi, f.bits);
    m.scales[g] = p.scale;
    if (!f.symmetric) m.zero_points[g] = static_cast<std::uint8_t>(p.zero);
    for (std::size_t i = 0; i < m.group_size; ++i) {
      const std::size_t flat = g * m.group_size + i;
      const std::size_t r = flat / m.cols, c = flat % m.cols;
      const std::uint8_t code = encode(v[i], p, f.bits, f.symmetric);
      if (f.bits == 8)
        m.codes[r * m.row_bytes + c] = code;
      else
        m.codes[r * m.row_bytes + c / 2] |= static_cast<std::uint8_t>(c % 2 ? code << 4 : code);
    }
  }
  return m;
}

tensor<2> dequantize(const affine_matrix& m) {
  auto out = tensor<2>::from_shape({m.rows, m.cols});
  for (std::size_t r = 0; r < m.rows; ++r)
    for (std::size_t c = 0; c < m.cols; ++c) out(r, c) = m.value(r, c);
  return out;
}

}  // namespace memlab::quant
