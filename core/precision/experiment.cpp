#include "precision/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "base/difference.hpp"
#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"
#include "precision/precision.hpp"

namespace memlab::experiments {
namespace {

using precision::format;

struct variant {
  const char* label;
  format storage, accumulate;
  bool scale_first;
};

const variant variants[] = {
    {"fp32", format::fp32, format::fp32, false},
    {"bf16, fp32 sums", format::bf16, format::fp32, false},
    {"fp16, fp32 sums", format::fp16, format::fp32, false},
    {"fp16, fp32 sums, scale first", format::fp16, format::fp32, true},
    {"bf16, bf16 sums", format::bf16, format::bf16, false},
    {"fp16, fp16 sums", format::fp16, format::fp16, false},
};

// softmax(q kᵀ / sqrt(d)) v in double, from the fp32 inputs; [heads, seq, d].
std::vector<double> attention_f64(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v,
                                  bool causal) {
  const std::size_t heads = q.shape(0), seq = q.shape(1), d = q.shape(2);
  const double scale = 1.0 / std::sqrt(double(d));
  std::vector<double> out(q.size(), 0.0), s(seq);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < seq; ++i) {
      const std::size_t seen = causal ? i + 1 : seq;
      double max = -std::numeric_limits<double>::infinity();
      for (std::size_t j = 0; j < seen; ++j) {
        double dot = 0;
        for (std::size_t c = 0; c < d; ++c) dot += double(q(h, i, c)) * k(h, j, c);
        s[j] = dot * scale;
        max = std::max(max, s[j]);
      }
      double sum = 0;
      for (std::size_t j = 0; j < seen; ++j) sum += (s[j] = std::exp(s[j] - max));
      for (std::size_t j = 0; j < seen; ++j)
        for (std::size_t c = 0; c < d; ++c) out[(h * seq + i) * d + c] += s[j] / sum * v(h, j, c);
    }
  return out;
}

std::vector<double> matmul_f64(const tensor<2>& a, const tensor<2>& b) {
  const std::size_t m = a.shape(0), k = a.shape(1), n = b.shape(1);
  std::vector<double> c(m * n, 0.0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t t = 0; t < k; ++t)
      for (std::size_t j = 0; j < n; ++j) c[i * n + j] += double(a(i, t)) * b(t, j);
  return c;
}

// The difference, with no error figure (NaN) once any output is not finite.
template <class T>
difference error_of(const T& x, const std::vector<double>& exact) {
  difference d = difference_of(x.data(), exact.data(), exact.size());
  if (d.nonfinite > 0) d.max_abs = d.rel_frobenius = std::numeric_limits<double>::quiet_NaN();
  return d;
}

}  // namespace

precision_figures run_precision(const precision_config& config) {
  const std::size_t seq = require_positive(config.seq, "seq");
  const std::size_t d = require_positive(config.head_dim, "head_dim");
  const std::size_t heads = require_positive(config.heads, "heads");
  require(config.logit_scale > 0 && std::isfinite(config.logit_scale), "logit_scale",
          config.logit_scale, "a positive finite number");
  require(std::uint64_t{heads} * seq * seq <= (std::uint64_t{1} << 24), "heads · seq²",
          std::uint64_t{heads} * seq * seq, "at most 2^24 (the emulation rounds every operation)");
  require(d <= 1024, "head_dim", d, "at most 1024");
  require_repeats(config.repeats);
  // Per variant, attention emulated with every operation rounded (~20 flops of
  // time per multiply-add), a warm-up and the repeats; the float64 references once.
  const double pairs = double(heads) * double(seq) * double(seq) * double(d);
  require_work((std::size(variants) * (config.repeats + 1.0) + 2) * 2 * pairs * 20,
               {{"repeats", config.repeats},
                {"seq", config.seq},
                {"heads", config.heads},
                {"head_dim", config.head_dim}},
               "the emulated attention of every variant");

  rng gen(config.seed);
  const float sigma = static_cast<float>(std::sqrt(config.logit_scale));
  const tensor<3> q = random_normal<3>({heads, seq, d}, gen, sigma);
  const tensor<3> k = random_normal<3>({heads, seq, d}, gen, sigma);
  const tensor<3> v = random_normal<3>({heads, seq, d}, gen);
  auto a = tensor<2>::from_shape({64, seq});
  auto b = tensor<2>::from_shape({seq, 64});
  for (float& x : a) x = gen.uniform();
  for (float& x : b) x = gen.uniform();

  precision_figures figures;
  figures.config = config;
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < seq; ++i)
      for (std::size_t j = 0; j < seq; ++j) {
        double dot = 0;
        for (std::size_t c = 0; c < d; ++c) dot += double(q(h, i, c)) * k(h, j, c);
        figures.max_abs_logit = std::max(figures.max_abs_logit, std::abs(dot));
      }
  const std::vector<double> attention_exact = attention_f64(q, k, v, config.causal);
  const std::vector<double> matmul_exact = matmul_f64(a, b);

  for (const variant& x : variants) {
    precision_row row;
    row.label = x.label;
    row.storage = precision::format_name(x.storage);
    row.accumulate = precision::format_name(x.accumulate);
    row.scale_first = x.scale_first;
    row.input_bytes = 3 * q.size() * precision::bytes_per_value(x.storage);
    const precision::attention_options options{
        {x.storage, x.accumulate}, x.scale_first, config.causal};
    tensor<3> out;
    row.attention =
        measure_batched(config.repeats, [&] { out = precision::attention(q, k, v, options); });
    const difference attention_error = error_of(out, attention_exact);
    row.attention_max_abs = attention_error.max_abs;
    row.attention_relative = attention_error.rel_frobenius;
    row.attention_nonfinite = attention_error.nonfinite;
    const difference matmul_error = error_of(precision::matmul(a, b, options.how), matmul_exact);
    row.matmul_max_abs = matmul_error.max_abs;
    row.matmul_relative = matmul_error.rel_frobenius;
    row.matmul_nonfinite = matmul_error.nonfinite;
    figures.rows.push_back(row);
  }
  return figures;
}

rounding_figures run_rounding(const rounding_config& config) {
  const std::size_t n = require_positive(config.values, "values");
  const std::size_t bins = require_positive(config.bins, "bins");
  require(n <= 10000000, "values", n, "at most 10,000,000");
  require(bins <= 1000, "bins", bins, "at most 1000");
  require(config.stddev > 0 && std::isfinite(config.stddev), "stddev", config.stddev,
          "a positive finite number");

  rounding_figures figures;
  figures.config = config;
  for (const format f : {format::fp16, format::bf16}) {
    rounding_histogram h;
    h.format = precision::format_name(f);
    h.unit_roundoff = precision::unit_roundoff(f);
    h.counts.assign(bins, 0.0);
    // The smallest normal: 2^-14 for fp16, 2^-126 for bf16 (fp32's).
    const double smallest_normal = f == format::fp16 ? std::ldexp(1.0, -14) : std::ldexp(1.0, -126);
    rng gen(config.seed);  // the same values for both formats
    double sum2 = 0;
    std::size_t counted = 0;
    for (std::size_t i = 0; i < n; ++i) {
      const float x = static_cast<float>(config.stddev) * gen.normal();
      if (std::abs(x) < smallest_normal || std::abs(x) > precision::largest_finite(f)) {
        ++h.outside_normal_range;
        continue;
      }
      const double e = (double(precision::round(f, x)) - x) / x / h.unit_roundoff;
      const auto bin = static_cast<std::size_t>(std::clamp((e + 1) / 2 * bins, 0.0, bins - 1.0));
      h.counts[bin] += 1;
      h.max_error_in_u = std::max(h.max_error_in_u, std::abs(e));
      sum2 += e * e;
      ++counted;
    }
    h.rms_error_in_u = counted ? std::sqrt(sum2 / counted) : 0;
    figures.formats.push_back(h);
  }
  return figures;
}

}  // namespace memlab::experiments
