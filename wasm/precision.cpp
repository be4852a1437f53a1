// precision.cpp — fp32 / fp16 / bf16 for JS: the error of attention and of a
// matmul per arithmetic against float64, the histogram of rounding errors, and
// the rounding of single values (bits included). Translation only.
#include "precision/precision.hpp"

#include <string>

#include "api.hpp"
#include "precision/experiment.hpp"

using namespace emscripten;
using namespace memlab;
using memlab::wasm::def;

namespace {

// {config, maxAbsLogit, rows: [...]}
val precision_run(experiments::precision_config config) {
  const experiments::precision_figures f = experiments::run_precision(config);
  val out = val::object();
  out.set("config", f.config);
  out.set("maxAbsLogit", f.max_abs_logit);
  out.set("rows", wasm::array_of(f.rows));
  return out;
}

// {config, formats: [{format, unitRoundoff, counts, maxErrorInU, rmsErrorInU, outsideNormalRange}]}
val rounding_run(experiments::rounding_config config) {
  const experiments::rounding_figures f = experiments::run_rounding(config);
  val formats = val::array();
  for (std::size_t i = 0; i < f.formats.size(); ++i) {
    const experiments::rounding_histogram& h = f.formats[i];
    val x = val::object();
    x.set("format", h.format);
    x.set("unitRoundoff", h.unit_roundoff);
    x.set("counts", wasm::array_of(h.counts));
    x.set("maxErrorInU", h.max_error_in_u);
    x.set("rmsErrorInU", h.rms_error_in_u);
    x.set("outsideNormalRange", double(h.outside_normal_range));
    formats.call<void>("push", x);
  }
  val out = val::object();
  out.set("config", f.config);
  out.set("formats", formats);
  return out;
}

// The value a store in `format` keeps, and its bits: {value, bits}.
val precision_round(std::string format, double x) {
  const precision::format f = precision::parse_format(format);
  const float value = precision::round(f, static_cast<float>(x));
  val out = val::object();
  out.set("value", value);
  out.set("bits", double(precision::bits(f, value)));
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_precision) {
  wasm::object<experiments::precision_config>("PrecisionConfig")
      .field("seq", &experiments::precision_config::seq)
      .field("headDim", &experiments::precision_config::head_dim)
      .field("heads", &experiments::precision_config::heads)
      .field("logitScale", &experiments::precision_config::logit_scale)
      .field("causal", &experiments::precision_config::causal)
      .field("repeats", &experiments::precision_config::repeats)
      .field("seed", &experiments::precision_config::seed);

  wasm::object<experiments::precision_row>("PrecisionRow")
      .field("label", &experiments::precision_row::label)
      .field("storage", &experiments::precision_row::storage)
      .field("accumulate", &experiments::precision_row::accumulate)
      .field("scaleFirst", &experiments::precision_row::scale_first)
      .field("attention", &experiments::precision_row::attention)
      .field("attentionMaxAbs", &experiments::precision_row::attention_max_abs)
      .field("attentionRelative", &experiments::precision_row::attention_relative)
      .field("attentionNonfinite", &experiments::precision_row::attention_nonfinite)
      .field("matmulMaxAbs", &experiments::precision_row::matmul_max_abs)
      .field("matmulRelative", &experiments::precision_row::matmul_relative)
      .field("matmulNonfinite", &experiments::precision_row::matmul_nonfinite)
      .field("inputBytes", &experiments::precision_row::input_bytes);

  wasm::object<experiments::rounding_config>("RoundingConfig")
      .field("values", &experiments::rounding_config::values)
      .field("bins", &experiments::rounding_config::bins)
      .field("stddev", &experiments::rounding_config::stddev)
      .field("seed", &experiments::rounding_config::seed);

  def<&precision_run>("runPrecision", "config");
  def<&rounding_run>("runRounding", "config");
  def<&precision_round>("precisionRound", "format", wasm::any_number("x"));
}
