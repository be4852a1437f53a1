// memlab-bench quant — storage, error and matvec speed of one quantization format,
// or of all of them, on seeded weights.
#include <cmath>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "quant/experiment.hpp"
#include "quant/matrix.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

json to_json(const experiments::quant_figures& f) {
  return {{"format", f.config.format},
          {"label", f.label},
          {"bits_per_weight", f.bits_per_weight},
          {"weight_bytes", f.weight_bytes},
          {"fp32_bytes", f.fp32_bytes},
          {"error",
           {{"max_abs", f.error.max_abs},
            {"rmse", f.error.rmse},
            {"rel_frobenius", f.error.rel_frobenius}}},
          {"quantize", bench::to_json(f.quantize)},
          {"matvec", bench::to_json(f.matvec)},
          {"fp32_matvec", bench::to_json(f.fp32_matvec)},
          {"speedup", f.matvec.ran ? json(f.speedup) : json(nullptr)},
          {"output_rel_error", f.matvec.ran ? json(f.output_rel_error) : json(nullptr)},
          {"kernel_rel_diff", f.matvec.ran ? json(f.kernel_rel_diff) : json(nullptr)}};
}

void print(const experiments::quant_config& c, const std::vector<experiments::quant_figures>& all,
           bool as_json) {
  if (as_json) {
    json results = json::array();
    for (const auto& f : all) results.push_back(to_json(f));
    const json out = {{"experiment", "quant"},
                      {"config",
                       {{"rows", c.rows},
                        {"cols", c.cols},
                        {"distribution", c.distribution},
                        {"granularity", c.granularity},
                        {"group", c.group},
                        {"repeats", c.repeats},
                        {"seed", c.seed}}},
                      {"results", results}};
    std::cout << out.dump(2) << '\n';
    return;
  }
  std::printf("quant: W [%d, %d] %s, x [%d], %d repeats (median)\n", c.rows, c.cols,
              c.distribution.c_str(), c.cols, c.repeats);
  std::printf("  %-22s %7s %11s %10s %10s %9s %9s %10s %10s %8s %10s %10s\n", "format", "bits/w",
              "weights", "max abs", "RMSE", "rel Frob", "quant ms", "matvec ms", "fp32 ms",
              "speedup", "y rel err", "kernel");
  for (const auto& f : all) {
    const bool mv = f.matvec.ran;
    std::printf("  %-22s %7.3f %11s %10.3g %10.3g %9.3g %9.2f %10s %10s %8s %10s %10s\n",
                f.label.c_str(), f.bits_per_weight, bytes_text(double(f.weight_bytes)).c_str(),
                f.error.max_abs, f.error.rmse, f.error.rel_frobenius, f.quantize.median_ms,
                mv ? number_text("%.3f", f.matvec.median_ms).c_str() : "-",
                mv ? number_text("%.3f", f.fp32_matvec.median_ms).c_str() : "-",
                mv ? number_text("%.2fx", f.speedup).c_str() : "-",
                mv ? number_text("%.3g", f.output_rel_error).c_str() : "-",
                mv ? number_text("%.1e", f.kernel_rel_diff).c_str() : "-");
  }
  std::printf(
      "  bits/w and weights: exact tracked storage incl. scales and zero points; errors of W;\n"
      "  y rel err = ||W_q x - W x|| / ||W x||; kernel = max |kernel - plain reference| / max sum "
      "|w x|\n");
}

}  // namespace

void add_quant_command(CLI::App& app) {
  struct options {
    experiments::quant_config config;
    bool no_matvec = false;
    bool json = false;
  };
  auto o = std::make_shared<options>();
  std::string formats;
  for (const auto& n : quant::format_names()) formats += (formats.empty() ? "" : ", ") + n;
  auto* cmd =
      app.add_subcommand("quant", "quantize a weight matrix: storage, error, matvec speed vs fp32");
  cmd->add_option("--rows", o->config.rows, "rows of W (output channels)")->capture_default_str();
  cmd->add_option("--cols", o->config.cols,
                  "columns of W (inputs); a multiple of 32 for q8_0/q4_0/q4_1")
      ->capture_default_str();
  cmd->add_option("--format", o->config.format, "one of " + formats + ", or all")
      ->capture_default_str();
  cmd->add_option("--granularity", o->config.granularity,
                  "int8_*/int4_* only: one scale per tensor, channel (row) or group")
      ->capture_default_str();
  cmd->add_option("--group", o->config.group,
                  "values per scale with --granularity group (divides cols)")
      ->capture_default_str();
  cmd->add_option("--distribution", o->config.distribution,
                  "weights: gaussian N(0, 0.02^2), or heavy (Student t3, outliers)")
      ->capture_default_str();
  cmd->add_option("--repeats", o->config.repeats, "timed runs (median reported)")
      ->capture_default_str();
  cmd->add_option("--seed", o->config.seed, "seed of the weights and of x")->capture_default_str();
  cmd->add_flag("--no-matvec", o->no_matvec,
                "skip the matrix-vector products (storage and error only)");
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] {
    auto config = o->config;
    config.run_matvec = !o->no_matvec;
    std::vector<experiments::quant_figures> all;
    if (config.format == "all") {
      for (const auto& name : quant::format_names()) {
        auto c = config;
        c.format = name;
        all.push_back(experiments::run_quant(c));
      }
    } else {
      all.push_back(experiments::run_quant(config));
    }
    print(config, all, o->json);
  });
}

}  // namespace memlab::bench
