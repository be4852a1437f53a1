#include "quant/nf4.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/error.hpp"
#include "quant/affine.hpp"

namespace memlab::nf4 {

const std::array<float, 16> code = {
    -1.0f,
    -0.6961928009986877f,
    -0.5250730514526367f,
    -0.39491748809814453f,
    -0.28444138169288635f,
    -0.18477343022823334f,
    -0.09105003625154495f,
    0.0f,
    0.07958029955625534f,
    0.16093020141124725f,
    0.24611230194568634f,
    0.33791524171829224f,
    0.44070982933044434f,
    0.5626170039176941f,
    0.7229568362236023f,
    1.0f,
};

const std::array<float, 15>& thresholds() {
  // bitsandbytes' dQuantizeNF4 constants (csrc/kernels.cu), ascending. They are
  // the double-precision midpoints of neighbouring codes, written out with 16-17
  // digits and parsed as float literals. A midpoint of two floats often lies
  // exactly halfway between two floats, so rounding it through double (ties to
  // even) and parsing its printed digits can land one ulp apart: the literals are
  // what bitsandbytes' kernel compares against, so they are used as they are.
  static const std::array<float, 15> t = {
      -0.8480964004993439f,  -0.6106329262256622f,  -0.4599952697753906f,   -0.33967943489551544f,
      -0.23460740596055984f, -0.13791173323988914f, -0.045525018125772476f, 0.03979014977812767f,
      0.1202552504837513f,   0.2035212516784668f,   0.2920137718319893f,    0.3893125355243683f,
      0.5016634166240692f,   0.6427869200706482f,   0.8614784181118011f,
  };
  return t;
}

std::uint8_t nearest_code(float n) {
  // bitsandbytes walks a decision tree of `n > threshold` tests; counting the
  // thresholds below n gives the same leaf.
  std::uint8_t c = 0;
  for (float t : thresholds()) c += n > t;
  return c;
}

const std::array<float, 256>& dynamic_map() {
  // create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for each
  // decade i = 0..6, 2^i values at the midpoints of linspace(0.1, 1, 2^i + 1)
  // times 10^(i-6), with both signs; then 0 and 1; 2·127 + 2 = 256 values.
  static const std::array<float, 256> map = [] {
    std::vector<double> data;
    for (int i = 0; i < 7; ++i) {
      const int items = (1 << i) + 1;
      const double decade = std::pow(10.0, i - 6);
      for (int k = 0; k + 1 < items; ++k) {
        const double a = 0.1 + 0.9 * k / (items - 1);
        const double b = 0.1 + 0.9 * (k + 1) / (items - 1);
        data.push_back(decade * (a + b) / 2);
        data.push_back(-decade * (a + b) / 2);
      }
    }
    data.push_back(0.0);
    data.push_back(1.0);
    std::sort(data.begin(), data.end());
    std::array<float, 256> out{};
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(data[i]);
    return out;
  }();
  return map;
}

std::uint8_t nearest_dynamic(float n) {
  const auto& map = dynamic_map();
  const auto upper = std::lower_bound(map.begin(), map.end(), n);
  if (upper == map.begin()) return 0;
  if (upper == map.end()) return 255;
  const auto lower = upper - 1;
  // Ties go to the upper neighbour, as in bitsandbytes' dQuantize.
  return static_cast<std::uint8_t>(
      std::fabs(n - *lower) < std::fabs(n - *upper) ? lower - map.begin() : upper - map.begin());
}

float nf4_matrix::block_absmax(std::size_t b) const {
  if (!double_quant) return absmax[b];
  return dynamic_map()[absmax_codes[b]] * absmax_scales[b / absmax_block] + offset[0];
}

std::size_t nf4_matrix::bytes() const {
  return codes.size() + absmax.size() * sizeof(float) + absmax_codes.size() +
         absmax_scales.size() * sizeof(float) + offset.size() * sizeof(float);
}

double nf4_matrix::bits_per_weight() const {
  return 8.0 * static_cast<double>(bytes()) / static_cast<double>(rows * cols);
}

nf4_matrix quantize(const tensor<2>& w, std::size_t block, bool double_quant) {
  quant::check_weights(w);
  quant::check_range(w, 1e30, "absmax statistics must stay finite in fp32");
  nf4_matrix m;
  m.rows = w.shape(0);
  m.cols = w.shape(1);
  require(block > 0 && block % 2 == 0, "block", block, "a positive even number of values");
  require(m.cols % block == 0, "block", block, "a divisor of " + named("cols", m.cols));
  m.block = block;
  m.double_quant = double_quant;

  const std::size_t n = m.rows * m.cols, blocks = m.blocks();
  const float* v = w.data();
  m.codes.assign(n / 2, 0);
  buffer<float> absmax(blocks);
  for (std::size_t b = 0; b < blocks; ++b) {
    float amax = 0;
    for (std::size_t j = 0; j < block; ++j) amax = std::max(amax, std::fabs(v[b * block + j]));
    absmax[b] = amax;
    // bitsandbytes multiplies by the reciprocal; an all-zero block maps to code 0.0.
    const float inv = amax > 0 ? 1.0f / amax : 0.0f;
    for (std::size_t j = 0; j < block; j += 2) {
      const std::size_t i = b * block + j;
      m.codes[i / 2] =
          static_cast<std::uint8_t>(nearest_code(v[i] * inv) << 4 | nearest_code(v[i + 1] * inv));
    }
  }
  if (!double_quant) {
    m.absmax = std::move(absmax);
    return m;
  }

  // Double quantization: centre the absmax values on their mean, then 8-bit
  // dynamic codes in blocks of 256, each block scaled by its own absmax.
  double sum = 0;
  for (float a : absmax) sum += a;
  m.offset.assign(1, static_cast<float>(sum / static_cast<double>(blocks)));
  const std::size_t groups = (blocks + absmax_block - 1) / absmax_block;
  m.absmax_codes.resize(blocks);
  m.absmax_scales.resize(groups);
  for (std::size_t g = 0; g < groups; ++g) {
    const std::size_t begin = g * absmax_block, end = std::min(blocks, begin + absmax_block);
    float amax = 0;
    for (std::size_t b = begin; b < end; ++b)
      amax = std::max(amax, std::fabs(absmax[b] - m.offset[0]));
    m.absmax_scales[g] = amax;
    const float inv = amax > 0 ? 1.0f / amax : 0.0f;
    for (std::size_t b = begin; b < end; ++b)
      m.absmax_codes[b] = nearest_dynamic((absmax[b] - m.offset[0]) * inv);
  }
  return m;
}

tensor<2> dequantize(const nf4_matrix& m) {
  auto out = tensor<2>::from_shape({m.rows, m.cols});
  float* y = out.data();
  for (std::size_t b = 0; b < m.blocks(); ++b) {
    const float a = m.block_absmax(b);
    for (std::size_t j = 0; j < m.block; j += 2) {
      const std::size_t i = b * m.block + j;
      const std::uint8_t byte = m.codes[i / 2];
      y[i] = code[byte >> 4] * a;
      y[i + 1] = code[byte & 0x0F] * a;
    }
  }
  return out;
}

double qlora_bits_per_weight(std::size_t block, bool double_quant) {
  const double b = static_cast<double>(block);
  return double_quant ? 4.0 + 8.0 / b + 32.0 / (b * absmax_block) : 4.0 + 32.0 / b;
}

}  // namespace memlab::nf4
