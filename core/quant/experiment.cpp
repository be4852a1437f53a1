#include "quant/experiment.hpp"

#include <algorithm>
#include <cmath>
#include <optional>

#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"
#include "model/generate.hpp"
#include "quant/ggml_blocks.hpp"
#include "quant/matrix.hpp"
#include "quant/matvec.hpp"
#include "quant/nf4.hpp"

namespace memlab::experiments {
namespace {

constexpr float weight_stddev = 0.02f;

double entropy_bits(const std::vector<std::size_t>& counts) {
  double total = 0, h = 0;
  for (std::size_t c : counts) total += static_cast<double>(c);
  for (std::size_t c : counts)
    if (c > 0) {
      const double p = static_cast<double>(c) / total;
      h -= p * std::log2(p);
    }
  return h;
}

void check_distribution(const std::string& distribution) {
  require(distribution == "gaussian" || distribution == "heavy", "distribution", distribution,
          "gaussian or heavy");
}

}  // namespace

tensor<2> quant_weights(std::size_t rows, std::size_t cols, const std::string& distribution,
                        std::uint32_t seed) {
  check_distribution(distribution);
  rng gen(seed);
  auto w = tensor<2>::from_shape({rows, cols});
  if (distribution == "gaussian") {
    for (float& v : w) v = weight_stddev * gen.normal();
  } else {
    // t_3 = z / sqrt(chi²_3 / 3), variance 3: divide by sqrt(3) for unit variance.
    for (float& v : w) {
      const double z = gen.normal();
      double chi2 = 0;
      for (int k = 0; k < 3; ++k) {
        const double g = gen.normal();
        chi2 += g * g;
      }
      v = static_cast<float>(weight_stddev * z / std::sqrt(chi2 / 3.0) / std::sqrt(3.0));
    }
  }
  return w;
}

quant_figures run_quant(const quant_config& config) {
  const std::size_t rows = require_positive(config.rows, "rows");
  const std::size_t cols = require_positive(config.cols, "cols");
  require_repeats(config.repeats);
  // Every field is checked, also those the format does not use.
  quant::format f = quant::parse_format(config.format);
  const quant::granularity scope = quant::parse_granularity(config.granularity);
  const std::size_t group = require_positive(config.group, "group");
  check_distribution(config.distribution);
  if (quant::is_affine(f.kind)) {
    f.scope = scope;
    if (f.scope == quant::granularity::group) f.group = group;
  }
  // W, its quantized copy (at most fp32's bytes and a scale per value), and two
  // dequantized copies; generating W (a heavy-tailed value takes 4 normals),
  // quantizing and dequantizing cost about 300 flops a value, each product 2
  // per weight, a warm-up and the repeats of two kernels and one reference.
  const count values = count(rows) * cols;
  const std::initializer_list<sized> sizes{{"rows", config.rows}, {"cols", config.cols}};
  require_bytes(values * 4 * 5, sizes, "the weights, quantized and dequantized");
  require_work(values.as_double() * (300 + 2.0 * (2 * (config.repeats + 1.0) + 1)),
               {{"rows", config.rows}, {"cols", config.cols}, {"repeats", config.repeats}},
               "quantizing, dequantizing and the products");

  const tensor<2> w = quant_weights(rows, cols, config.distribution, config.seed);
  quant_figures out;
  out.config = config;
  out.label = quant::describe(f);
  out.fp32_bytes = rows * cols * sizeof(float);

  // Quantizing is timed once after a warm-up (it is not what the experiment is
  // about, and in wasm a 4096 x 4096 matrix takes a good part of a second). Each
  // run frees the previous matrix first, so a run's peak is the new matrix plus
  // its scratch, and the live bytes it leaves are exactly the matrix's storage.
  std::optional<quant::quantized_matrix> wq;
  out.quantize = measure(1, [&] {
    wq.reset();
    const std::size_t before = memory::tracker().live_bytes();
    wq = quant::quantized_matrix::quantize(w, f);
    out.weight_bytes = memory::tracker().live_bytes() - before;
  });
  out.bits_per_weight = wq->bits_per_weight();
  out.error = quant::measure_error(w, wq->dequantize());
  if (!config.run_matvec) return out;

  rng gen(config.seed + 1);
  const tensor<1> x = random_normal<1>({cols}, gen);
  tensor<1> y, y_fp32;
  out.matvec = measure(config.repeats, [&] { y = wq->matvec(x); });
  out.fp32_matvec = measure(config.repeats, [&] { y_fp32 = qmatvec::fp32(w, x); });
  out.speedup = out.matvec.median_ms > 0 ? out.fp32_matvec.median_ms / out.matvec.median_ms : 0;

  double diff_sq = 0, norm_sq = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    const double d = static_cast<double>(y[r]) - y_fp32[r];
    diff_sq += d * d;
    norm_sq += static_cast<double>(y_fp32[r]) * y_fp32[r];
  }
  out.output_rel_error = norm_sq > 0 ? std::sqrt(diff_sq / norm_sq) : 0;

  const tensor<1> y_ref = wq->matvec_reference(x);
  const tensor<2> w_hat = wq->dequantize();
  double max_diff = 0, scale = 0;
  for (std::size_t r = 0; r < rows; ++r) {
    max_diff = std::max(max_diff, std::abs(static_cast<double>(y[r]) - y_ref[r]));
    double s = 0;
    for (std::size_t c = 0; c < cols; ++c) s += std::abs(static_cast<double>(w_hat(r, c)) * x[c]);
    scale = std::max(scale, s);
  }
  out.kernel_rel_diff = scale > 0 ? max_diff / scale : max_diff;
  return out;
}

round_trip_figures run_quant_round_trip(const std::string& format, int n, int repeats,
                                        std::uint32_t seed) {
  const quant::format f = quant::parse_format(format);
  require_positive(n, "n");
  // The row is one matrix row: its groups or blocks must divide it.
  const std::size_t multiple = [&]() -> std::size_t {
    using quant::scheme;
    switch (f.kind) {
      case scheme::q8_0:
      case scheme::q4_0:
      case scheme::q4_1:
        return 32;
      case scheme::nf4:
      case scheme::nf4_dq:
        return f.block;
      case scheme::int8_sym:
      case scheme::int8_asym:
      case scheme::int4_sym:
      case scheme::int4_asym:
        return f.scope == quant::granularity::group ? f.group : 1;
      default:
        return 1;
    }
  }();
  require(std::size_t(n) % multiple == 0, "n", n, [&] {
    return "a multiple of " + std::to_string(multiple) + ", the group or block of " +
           quant::describe(f);
  });
  require_repeats(repeats);
  // w, its quantized copy and ŵ; about 100 flops a value per round trip, and
  // the timed batches last at least 2 ms (counted as 2e7 flops each).
  require_bytes(count(n) * 4 * 3, {{"n", n}}, "the row, quantized and dequantized");
  require_work((repeats + 2.0) * (100.0 * n + 2e7), {{"n", n}, {"repeats", repeats}},
               "the timed round trips");
  const tensor<2> w = quant_weights(1, std::size_t(n), "gaussian", seed);
  round_trip_figures out;
  out.output_bytes = w.size() * sizeof(float);
  auto round_trip = [&] {
    const auto q = quant::quantized_matrix::quantize(w, f);
    const tensor<2> w_hat = q.dequantize();
    out.quantized_bytes = q.bytes();
  };
  // Timed in batches of >= 2 ms, so that a browser's clock (it may tick every
  // 100 µs) times even a short row (4096 values: tens of µs). Each round trip
  // frees what it allocated, so the peak is that of one.
  out.run = measure_batched(repeats, round_trip);
  return out;
}

quant_grid_figures run_quant_grid(const quant_grid_config& config) {
  const std::size_t cols = require_positive(config.cols, "cols");
  require(cols % 2 == 0, "cols", cols, "an even number (two 4-bit codes per byte)");
  require_bytes(count(cols) * 4 * 6, {{"cols", config.cols}}, "the row, its codes and grids");
  const tensor<2> w = quant_weights(1, cols, config.distribution, config.seed);

  quant::affine_format int4{4, true, quant::granularity::channel, 0};
  const quant::affine_matrix a = quant::quantize_affine(w, int4);
  const nf4::nf4_matrix n = nf4::quantize(w, cols, false);

  quant_grid_figures out;
  out.config = config;
  out.row.assign(w.begin(), w.end());
  for (int c = 1; c <= 15; ++c) out.int4_grid.push_back(a.scales[0] * static_cast<float>(c - 8));
  for (float v : nf4::code) out.nf4_grid.push_back(v * n.block_absmax(0));
  out.int4_counts.assign(15, 0);
  out.nf4_counts.assign(16, 0);
  for (std::size_t c = 0; c < cols; ++c) {
    ++out.int4_counts[a.code(0, c) - 1];
    ++out.nf4_counts[n.code_at(0, c)];
  }
  out.int4_rmse = quant::measure_error(w, quant::dequantize(a)).rmse;
  out.nf4_rmse = quant::measure_error(w, nf4::dequantize(n)).rmse;
  out.int4_entropy_bits = entropy_bits(out.int4_counts);
  out.nf4_entropy_bits = entropy_bits(out.nf4_counts);
  return out;
}

quantized_gpt_figures run_quantized_gpt(const quantized_gpt_config& config) {
  require_positive(config.tokens, "tokens");
  require(!config.text.empty(), "text", "empty", "at least 1 byte");
  const gpt::model fp32(config.model, config.model_seed);
  const gpt::model q = fp32.quantized(quant::parse_format(config.format));
  quantized_gpt_figures f;
  f.config = config;
  f.fp32_weight_bytes = fp32.weight_bytes();
  f.weight_bytes = q.weight_bytes();

  std::vector<int> text = gpt::encode(config.text);
  text.resize(std::min<std::size_t>(text.size(), static_cast<std::size_t>(config.model.max_seq)));
  const tensor<2> expected = fp32.forward(text);
  const tensor<2> got = q.forward(text);
  double sum_diff = 0, sum_scale = 0;
  std::size_t agree = 0;
  for (std::size_t i = 0; i < expected.shape(0); ++i) {
    std::size_t best_expected = 0, best_got = 0;
    for (std::size_t t = 0; t < expected.shape(1); ++t) {
      const double diff = std::abs(double(got(i, t)) - expected(i, t));
      f.max_logit_diff = std::max(f.max_logit_diff, diff);
      sum_diff += diff;
      sum_scale += std::abs(double(expected(i, t)));
      if (expected(i, t) > expected(i, best_expected)) best_expected = t;
      if (got(i, t) > got(i, best_got)) best_got = t;
    }
    agree += best_expected == best_got;
  }
  f.mean_logit_diff = sum_diff / static_cast<double>(expected.size());
  f.logit_scale = sum_scale / static_cast<double>(expected.size());
  f.next_token_agreement = static_cast<double>(agree) / static_cast<double>(expected.shape(0));

  const std::vector<int> prompt(text.begin(), text.begin() + 1);
  const int n = std::min(config.tokens, config.model.max_seq - 1);
  const generation a = generate(fp32, prompt, n, true);
  const generation b = generate(q, prompt, n, true);
  f.fp32_tokens_per_second = 1000.0 * n / a.ms;
  f.tokens_per_second = 1000.0 * n / b.ms;
  return f;
}

std::vector<std::uint8_t> ggml_block_bytes(const std::string& format,
                                           const std::vector<float>& row) {
  auto w = tensor<2>::from_shape({1, row.size()});
  std::copy(row.begin(), row.end(), w.begin());
  const quant::format f = quant::parse_format(format);
  std::vector<std::uint8_t> bytes;
  auto copy = [&](const auto& m) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(m.blocks.data());
    bytes.assign(p, p + m.bytes());
  };
  if (f.kind == quant::scheme::q8_0)
    copy(ggml::quantize_q8_0(w));
  else if (f.kind == quant::scheme::q4_0)
    copy(ggml::quantize_q4_0(w));
  else if (f.kind == quant::scheme::q4_1)
    copy(ggml::quantize_q4_1(w));
  else
    require(false, "format", format, "q8_0, q4_0 or q4_1 (a ggml block format)");
  return bytes;
}

}  // namespace memlab::experiments
