// quant.cpp — quantization for JS: the storage/error/matvec experiment per format,
// the int4-vs-NF4 grid of one weight row, the quantize + dequantize round trip
// the exercises benchmark, the raw bytes of ggml blocks, and the list of format
// names.
// Translation only.
#include <string>
#include <vector>

#include "api.hpp"
#include "quant/experiment.hpp"
#include "quant/matrix.hpp"

using namespace emscripten;
using namespace memlab;
using memlab::wasm::def;

namespace {

template <class T>
val to_array(const std::vector<T>& values) {
  // A view into wasm memory, copied by slice() before the vector is freed.
  return val(typed_memory_view(values.size(), values.data())).call<val>("slice");
}

val quant_grid(experiments::quant_grid_config config) {
  const auto g = experiments::run_quant_grid(config);
  const std::vector<double> int4_counts(g.int4_counts.begin(), g.int4_counts.end());
  const std::vector<double> nf4_counts(g.nf4_counts.begin(), g.nf4_counts.end());
  val out = val::object();
  out.set("config", g.config);
  out.set("row", to_array(g.row));
  out.set("int4Grid", to_array(g.int4_grid));
  out.set("nf4Grid", to_array(g.nf4_grid));
  out.set("int4Counts", to_array(int4_counts));
  out.set("nf4Counts", to_array(nf4_counts));
  out.set("int4Rmse", g.int4_rmse);
  out.set("nf4Rmse", g.nf4_rmse);
  out.set("int4EntropyBits", g.int4_entropy_bits);
  out.set("nf4EntropyBits", g.nf4_entropy_bits);
  return out;
}

// {ms, peakBytes, quantizedBytes, outputBytes}: see run_quant_round_trip.
val quant_round_trip(std::string format, int n, int repeats, std::uint32_t seed) {
  const auto f = experiments::run_quant_round_trip(format, n, repeats, seed);
  val out = val::object();
  out.set("ms", f.run.median_ms);
  out.set("peakBytes", double(f.run.peak_bytes));
  out.set("quantizedBytes", double(f.quantized_bytes));
  out.set("outputBytes", double(f.output_bytes));
  return out;
}

// The raw bytes of ggml blocks (q8_0, q4_0, q4_1) for a row of values, to show
// and test the layout from JS.
val quant_block_bytes(std::string format, val values) {
  return to_array(
      experiments::ggml_block_bytes(format, convertJSArrayToNumberVector<float>(values)));
}

val quant_formats() {
  val names = val::array();
  for (const auto& name : quant::format_names()) names.call<void>("push", name);
  return names;
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_quant) {
  wasm::object<experiments::quant_config>("QuantConfig")
      .field("rows", &experiments::quant_config::rows)
      .field("cols", &experiments::quant_config::cols)
      .field("format", &experiments::quant_config::format, quant::format_names())
      .field("granularity", &experiments::quant_config::granularity, {"tensor", "channel", "group"})
      .field("group", &experiments::quant_config::group)
      .field("distribution", &experiments::quant_config::distribution, {"gaussian", "heavy"})
      .field("runMatvec", &experiments::quant_config::run_matvec)
      .field("repeats", &experiments::quant_config::repeats)
      .field("seed", &experiments::quant_config::seed);

  wasm::object<quant::error_figures>("QuantError")
      .field("maxAbs", &quant::error_figures::max_abs)
      .field("rmse", &quant::error_figures::rmse)
      .field("relFrobenius", &quant::error_figures::rel_frobenius);

  wasm::object<experiments::quant_figures>("QuantFigures")
      .field("config", &experiments::quant_figures::config)
      .field("label", &experiments::quant_figures::label)
      .field("weightBytes", &experiments::quant_figures::weight_bytes)
      .field("fp32Bytes", &experiments::quant_figures::fp32_bytes)
      .field("bitsPerWeight", &experiments::quant_figures::bits_per_weight)
      .field("error", &experiments::quant_figures::error)
      .field("quantize", &experiments::quant_figures::quantize)
      .field("matvec", &experiments::quant_figures::matvec)
      .field("fp32Matvec", &experiments::quant_figures::fp32_matvec)
      .field("speedup", &experiments::quant_figures::speedup)
      .field("outputRelError", &experiments::quant_figures::output_rel_error)
      .field("kernelRelDiff", &experiments::quant_figures::kernel_rel_diff);

  wasm::object<experiments::quant_grid_config>("QuantGridConfig")
      .field("cols", &experiments::quant_grid_config::cols)
      .field("distribution", &experiments::quant_grid_config::distribution, {"gaussian", "heavy"})
      .field("seed", &experiments::quant_grid_config::seed);

  def<&experiments::run_quant>("runQuant", "config");
  def<&quant_grid>("runQuantGrid", "config");
  def<&quant_formats>("quantFormats");
  def<&quant_block_bytes>("quantBlockBytes", wasm::one_of("format", {"q8_0", "q4_0", "q4_1"}),
                          wasm::float32_array("values"));
  def<&quant_round_trip>("quantRoundTrip", wasm::one_of("format", quant::format_names()), "n",
                         "repeats", "seed");
}
