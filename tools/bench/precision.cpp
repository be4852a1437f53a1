// memlab-bench precision — fp32, fp16 and bf16 storage and sums: errors of eager
// attention and of a matmul against float64, fp16's overflow, bytes.
//
//   memlab-bench precision [--seq 256] [--head-dim 64] [--logit-scale 1] [--causal]
//                          [--sweep-seq 64,128,...] [--sweep-scale 1,10,...]
//                          [--histogram [--values N --bins N]] [--json]
//
// One point by default: a row per arithmetic. --sweep-seq / --sweep-scale print
// the relative errors as tables by sequence length / logit scale (a NaN output
// shows as "NaN:" and the count of non-finite outputs). --histogram prints the
// relative rounding errors of fp16 and bf16 in units of u.
#include <cmath>
#include <iostream>
#include <memory>

#include "commands.hpp"
#include "precision/experiment.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

json nan_as_null(double x) { return std::isnan(x) ? json(nullptr) : json(x); }

json to_json(const experiments::precision_figures& f) {
  const auto& c = f.config;
  json rows = json::array();
  for (const auto& r : f.rows)
    rows.push_back({{"label", r.label},
                    {"storage", r.storage},
                    {"accumulate", r.accumulate},
                    {"scale_first", r.scale_first},
                    {"attention", bench::to_json(r.attention)},
                    {"attention_max_abs", nan_as_null(r.attention_max_abs)},
                    {"attention_relative", nan_as_null(r.attention_relative)},
                    {"attention_nonfinite", r.attention_nonfinite},
                    {"matmul_max_abs", nan_as_null(r.matmul_max_abs)},
                    {"matmul_relative", nan_as_null(r.matmul_relative)},
                    {"matmul_nonfinite", r.matmul_nonfinite},
                    {"input_bytes", r.input_bytes}});
  return {{"config",
           {{"seq", c.seq},
            {"head_dim", c.head_dim},
            {"heads", c.heads},
            {"logit_scale", c.logit_scale},
            {"causal", c.causal},
            {"repeats", c.repeats},
            {"seed", c.seed}}},
          {"max_abs_logit", f.max_abs_logit},
          {"rows", rows}};
}

std::string error_text(double relative, std::size_t nonfinite) {
  return std::isnan(relative) ? "NaN:" + std::to_string(nonfinite) : number_text("%.2e", relative);
}

void print_point(const experiments::precision_figures& f) {
  const auto& c = f.config;
  std::printf(
      "precision: heads %d, seq %d, head_dim %d, logit scale %g%s (max |q·k| %.4g); matmul "
      "[64, %d] x [%d, 64]\n",
      c.heads, c.seq, c.head_dim, c.logit_scale, c.causal ? ", causal" : "", f.max_abs_logit, c.seq,
      c.seq);
  std::printf("  %-30s %12s %12s %10s %12s %12s %12s %11s\n", "arithmetic", "attn max abs",
              "attn rel", "non-finite", "matmul rel", "Q,K,V bytes", "attn peak", "emulated ms");
  for (const auto& r : f.rows)
    std::printf(
        "  %-30s %12s %12s %10zu %12s %12s %12s %11.2f\n", r.label.c_str(),
        std::isnan(r.attention_max_abs) ? "NaN" : number_text("%.2e", r.attention_max_abs).c_str(),
        error_text(r.attention_relative, r.attention_nonfinite).c_str(), r.attention_nonfinite,
        error_text(r.matmul_relative, r.matmul_nonfinite).c_str(),
        bytes_text(double(r.input_bytes)).c_str(),
        bytes_text(double(r.attention.peak_bytes)).c_str(), r.attention.median_ms);
}

// Rows: arithmetics; columns: the swept values.
void print_table(const char* axis, const std::vector<experiments::precision_figures>& points,
                 bool matmul) {
  std::printf("%s relative error by %s\n  %-30s", matmul ? "matmul" : "attention", axis,
              "arithmetic");
  for (const auto& p : points)
    std::printf(" %10g", std::string(axis) == "seq" ? double(p.config.seq) : p.config.logit_scale);
  std::printf("\n");
  for (std::size_t r = 0; r < points.front().rows.size(); ++r) {
    std::printf("  %-30s", points.front().rows[r].label.c_str());
    for (const auto& p : points) {
      const auto& row = p.rows[r];
      std::printf(" %10s", (matmul ? error_text(row.matmul_relative, row.matmul_nonfinite)
                                   : error_text(row.attention_relative, row.attention_nonfinite))
                               .c_str());
    }
    std::printf("\n");
  }
}

void print_histogram(const experiments::rounding_figures& f, bool as_json) {
  if (as_json) {
    json formats = json::array();
    for (const auto& h : f.formats)
      formats.push_back({{"format", h.format},
                         {"unit_roundoff", h.unit_roundoff},
                         {"counts", h.counts},
                         {"max_error_in_u", h.max_error_in_u},
                         {"rms_error_in_u", h.rms_error_in_u},
                         {"outside_normal_range", h.outside_normal_range}});
    std::cout << json{{"experiment", "rounding"},
                      {"config",
                       {{"values", f.config.values},
                        {"bins", f.config.bins},
                        {"stddev", f.config.stddev},
                        {"seed", f.config.seed}}},
                      {"formats", formats}}
                     .dump(2)
              << '\n';
    return;
  }
  for (const auto& h : f.formats) {
    std::printf(
        "%s: relative rounding error of %d N(0, %g) values in units of u = %.3g: max %.3f u, "
        "rms %.3f u, %zu outside the normal range\n",
        h.format.c_str(), f.config.values, f.config.stddev, h.unit_roundoff, h.max_error_in_u,
        h.rms_error_in_u, h.outside_normal_range);
    double most = 1;
    for (const double n : h.counts) most = std::max(most, n);
    const std::size_t bins = h.counts.size();
    for (std::size_t b = 0; b < bins; ++b)
      std::printf("  [%+.2f, %+.2f) %8.0f %s\n", -1 + 2.0 * b / bins, -1 + 2.0 * (b + 1) / bins,
                  h.counts[b], std::string(std::size_t(50 * h.counts[b] / most), '#').c_str());
  }
}

}  // namespace

void add_precision_command(CLI::App& app) {
  struct options {
    experiments::precision_config config;
    experiments::rounding_config rounding;
    std::vector<int> sweep_seq;
    std::vector<double> sweep_scale;
    bool histogram = false, json = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("precision", "fp32 / fp16 / bf16 storage and sums vs float64");
  auto& c = o->config;
  cmd->add_option("--seq", c.seq, "sequence length (and the matmul's inner size)")
      ->capture_default_str();
  cmd->add_option("--head-dim", c.head_dim, "size of one head")->capture_default_str();
  cmd->add_option("--heads", c.heads, "heads")->capture_default_str();
  cmd->add_option("--logit-scale", c.logit_scale, "standard deviation of q·k / sqrt(head_dim)")
      ->capture_default_str();
  cmd->add_flag("--causal", c.causal, "causal mask");
  cmd->add_option("--repeats", c.repeats, "timed runs per arithmetic (median)")
      ->capture_default_str();
  cmd->add_option("--seed", c.seed, "seed of the inputs")->capture_default_str();
  cmd->add_option("--sweep-seq", o->sweep_seq, "sequence lengths, e.g. 64,256,1024")
      ->delimiter(',');
  cmd->add_option("--sweep-scale", o->sweep_scale, "logit scales, e.g. 1,10,100,1000")
      ->delimiter(',');
  cmd->add_flag("--histogram", o->histogram, "histogram of fp16 and bf16 rounding errors");
  cmd->add_option("--values", o->rounding.values, "values in the histogram")->capture_default_str();
  cmd->add_option("--bins", o->rounding.bins, "bins of the histogram")->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] {
    if (o->histogram) {
      auto r = o->rounding;
      r.seed = o->config.seed;
      print_histogram(experiments::run_rounding(r), o->json);
      return;
    }
    const bool by_seq = !o->sweep_seq.empty(), by_scale = !o->sweep_scale.empty();
    if (!by_seq && !by_scale) {
      const auto f = experiments::run_precision(o->config);
      if (o->json) {
        json out = to_json(f);
        out["experiment"] = "precision";
        std::cout << out.dump(2) << '\n';
      } else {
        print_point(f);
      }
      return;
    }
    std::vector<experiments::precision_figures> points;
    if (by_seq)
      for (const int seq : o->sweep_seq) {
        auto point = o->config;
        point.seq = seq;
        points.push_back(experiments::run_precision(point));
      }
    else
      for (const double scale : o->sweep_scale) {
        auto point = o->config;
        point.logit_scale = scale;
        points.push_back(experiments::run_precision(point));
      }
    if (o->json) {
      json out = json::array();
      for (const auto& p : points) out.push_back(to_json(p));
      std::cout << json{{"experiment", "precision"}, {"points", out}}.dump(2) << '\n';
      return;
    }
    print_table(by_seq ? "seq" : "logit scale", points, false);
    print_table(by_seq ? "seq" : "logit scale", points, true);
  });
}

}  // namespace memlab::bench
