// memlab-bench lsh — Reformer's LSH attention: time and tracked peak against naive
// and flash attention, and its error against exact shared-QK attention.
//
//   memlab-bench lsh [--seq 1024] [--buckets 16] [--rounds 2] [--chunk 64] [--causal]
//                    [--data random|clustered] [--sweep 512,1024,...] [--naive-max 4096]
//                    [--errors [--grid-buckets 2,4,...] [--grid-rounds 1,2,...]] [--json]
//
// One point by default; --sweep runs a list of sequence lengths (naive and the
// exact reference only up to --naive-max: they keep seq² scores) and prints the
// log-log slope of each method's time; --errors prints the error table over
// buckets × rounds on random and clustered data.
#include <cmath>
#include <iostream>
#include <memory>

#include "attention/experiment.hpp"
#include "commands.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

json nan_as_null(double x) { return std::isnan(x) ? json(nullptr) : json(x); }

json to_json(const experiments::lsh_figures& f) {
  const auto& c = f.config;
  return {{"config",
           {{"seq", c.seq},
            {"head_dim", c.head_dim},
            {"heads", c.heads},
            {"n_buckets", c.n_buckets},
            {"n_rounds", c.n_rounds},
            {"chunk", c.chunk},
            {"causal", c.causal},
            {"data", c.data},
            {"cluster_size", c.cluster_size},
            {"repeats", c.repeats},
            {"seed", c.seed}}},
          {"lsh", bench::to_json(f.lsh)},
          {"exact", bench::to_json(f.exact)},
          {"naive", bench::to_json(f.naive)},
          {"flash", bench::to_json(f.flash)},
          {"max_abs_error", nan_as_null(f.max_abs_error)},
          {"relative_error", nan_as_null(f.relative_error)},
          {"scratch_bytes", f.scratch_bytes}};
}

std::string ms(const run_figures& r) { return r.ran ? number_text("%.3f", r.median_ms) : "-"; }
std::string peak(const run_figures& r) {
  return r.ran ? bytes_text(double(r.peak_bytes)) : std::string("-");
}

void print_point(const experiments::lsh_figures& f) {
  const auto& c = f.config;
  std::printf(
      "lsh: heads %d, seq %d, head_dim %d, %d buckets, %d rounds, chunk %d, %s data%s, %d "
      "repeats\n",
      c.heads, c.seq, c.head_dim, c.n_buckets, c.n_rounds, c.chunk, c.data.c_str(),
      c.causal ? ", causal" : "", c.repeats);
  std::printf("  %-28s %12s %14s\n", "", "time ms", "tracked peak");
  const std::pair<const char*, const run_figures*> runs[] = {{"lsh", &f.lsh},
                                                             {"exact shared-QK (naive)", &f.exact},
                                                             {"naive attention", &f.naive},
                                                             {"flash attention", &f.flash}};
  for (const auto& [name, r] : runs)
    std::printf("  %-28s %12s %14s\n", name, ms(*r).c_str(), peak(*r).c_str());
  std::printf("  error vs exact: max abs %s, relative Frobenius %s\n",
              std::isnan(f.max_abs_error) ? "-" : number_text("%.3g", f.max_abs_error).c_str(),
              std::isnan(f.relative_error) ? "-" : number_text("%.3g", f.relative_error).c_str());
}

// The log-log slope of time between the first and last points a method ran at.
double slope(const std::vector<experiments::lsh_figures>& points,
             const run_figures experiments::lsh_figures::*run) {
  const experiments::lsh_figures* first = nullptr;
  const experiments::lsh_figures* last = nullptr;
  for (const auto& p : points)
    if ((p.*run).ran && (p.*run).median_ms > 0) (first ? last : first) = &p;
  if (!first || !last) return NAN;
  return std::log((last->*run).median_ms / (first->*run).median_ms) /
         std::log(double(last->config.seq) / first->config.seq);
}

void print_sweep(const std::vector<experiments::lsh_figures>& points, bool as_json) {
  using F = experiments::lsh_figures;
  const std::pair<const char*, const run_figures F::*> methods[] = {
      {"lsh", &F::lsh}, {"naive", &F::naive}, {"flash", &F::flash}, {"exact", &F::exact}};
  if (as_json) {
    json rows = json::array(), slopes = json::object();
    for (const auto& p : points) rows.push_back(to_json(p));
    for (const auto& [name, run] : methods) slopes[name] = nan_as_null(slope(points, run));
    std::cout << json{{"experiment", "lsh"}, {"points", rows}, {"time_slopes", slopes}}.dump(2)
              << '\n';
    return;
  }
  std::printf("%7s %11s %11s %11s %12s %12s %12s %10s\n", "seq", "lsh ms", "naive ms", "flash ms",
              "lsh peak", "naive peak", "flash peak", "lsh error");
  for (const auto& p : points)
    std::printf("%7d %11s %11s %11s %12s %12s %12s %10s\n", p.config.seq, ms(p.lsh).c_str(),
                ms(p.naive).c_str(), ms(p.flash).c_str(), peak(p.lsh).c_str(),
                peak(p.naive).c_str(), peak(p.flash).c_str(),
                std::isnan(p.relative_error) ? "-" : number_text("%.3g", p.relative_error).c_str());
  std::printf("time ~ seq^slope (log-log, first to last point):");
  for (const auto& [name, run] : methods)
    if (!std::isnan(slope(points, run))) std::printf("  %s %.2f", name, slope(points, run));
  std::printf("\n");
}

void print_errors(const experiments::lsh_errors_config& c,
                  const std::vector<experiments::lsh_error_row>& rows, bool as_json) {
  if (as_json) {
    json out = json::array();
    for (const auto& r : rows)
      out.push_back({{"data", r.data},
                     {"n_buckets", r.n_buckets},
                     {"n_rounds", r.n_rounds},
                     {"max_abs_error", r.max_abs_error},
                     {"relative_error", r.relative_error}});
    std::cout << json{{"experiment", "lsh errors"},
                      {"config",
                       {{"seq", c.seq},
                        {"head_dim", c.head_dim},
                        {"chunk", c.chunk},
                        {"causal", c.causal},
                        {"cluster_size", c.cluster_size},
                        {"seed", c.seed}}},
                      {"rows", out}}
                     .dump(2)
              << '\n';
    return;
  }
  std::printf(
      "LSH error against exact shared-QK attention, relative Frobenius (max abs): seq %d, "
      "head_dim %d, chunk %d%s\n",
      c.seq, c.head_dim, c.chunk, c.causal ? ", causal" : "");
  for (const char* data : {"random", "clustered"}) {
    std::printf("%s data\n  %-10s", data, "buckets");
    for (const int r : c.rounds) std::printf(" %20s", (std::to_string(r) + " rounds").c_str());
    std::printf("\n");
    for (const int b : c.buckets) {
      std::printf("  %-10d", b);
      for (const auto& row : rows)
        if (row.data == data && row.n_buckets == b)
          std::printf(" %20s", (number_text("%.3f", row.relative_error) + " (" +
                                number_text("%.3f", row.max_abs_error) + ")")
                                   .c_str());
      std::printf("\n");
    }
  }
}

}  // namespace

void add_lsh_command(CLI::App& app) {
  struct options {
    experiments::lsh_config config;
    std::vector<int> sweep;
    int naive_max = 4096;
    bool no_naive = false, no_flash = false, no_exact = false, errors = false, json = false;
    std::vector<int> grid_buckets = {2, 4, 8, 16, 32, 64}, grid_rounds = {1, 2, 4, 8};
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand("lsh", "Reformer's LSH attention against naive and flash");
  auto& c = o->config;
  cmd->add_option("--seq", c.seq, "sequence length")->capture_default_str();
  cmd->add_option("--head-dim", c.head_dim, "size of one head")->capture_default_str();
  cmd->add_option("--heads", c.heads, "heads")->capture_default_str();
  cmd->add_option("--buckets", c.n_buckets, "hash buckets (1 or even)")->capture_default_str();
  cmd->add_option("--rounds", c.n_rounds, "hash rounds")->capture_default_str();
  cmd->add_option("--chunk", c.chunk, "positions per chunk of the sorted order")
      ->capture_default_str();
  cmd->add_flag("--causal", c.causal, "causal mask (by position)");
  cmd->add_option("--data", c.data, "random or clustered")->capture_default_str();
  cmd->add_option("--cluster-size", c.cluster_size, "mean positions per cluster (clustered data)")
      ->capture_default_str();
  cmd->add_option("--repeats", c.repeats, "timed runs per method (median)")->capture_default_str();
  cmd->add_option("--seed", c.seed, "seed of the inputs and rotations")->capture_default_str();
  cmd->add_option("--sweep", o->sweep, "sequence lengths to run, e.g. 512,1024,2048")
      ->delimiter(',');
  cmd->add_option("--naive-max", o->naive_max,
                  "longest seq at which naive and the exact reference run in a sweep")
      ->capture_default_str();
  cmd->add_flag("--no-naive", o->no_naive, "skip naive attention");
  cmd->add_flag("--no-flash", o->no_flash, "skip flash attention");
  cmd->add_flag("--no-exact", o->no_exact, "skip the exact reference (no error figures)");
  cmd->add_flag("--errors", o->errors, "the error table over buckets x rounds, both data kinds");
  cmd->add_option("--grid-buckets", o->grid_buckets, "bucket counts of the error table")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--grid-rounds", o->grid_rounds, "round counts of the error table")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] {
    auto config = o->config;
    config.run_naive = !o->no_naive;
    config.run_flash = !o->no_flash;
    config.run_exact = !o->no_exact;
    if (o->errors) {
      experiments::lsh_errors_config e;
      e.seq = config.seq;
      e.head_dim = config.head_dim;
      e.chunk = config.chunk;
      e.causal = config.causal;
      e.cluster_size = config.cluster_size;
      e.buckets = o->grid_buckets;
      e.rounds = o->grid_rounds;
      e.seed = config.seed;
      print_errors(e, experiments::run_lsh_errors(e), o->json);
      return;
    }
    if (o->sweep.empty()) {
      const auto f = experiments::run_lsh(config);
      if (o->json)
        std::cout <<
            [&] {
              json out = to_json(f);
              out["experiment"] = "lsh";
              return out;
            }()
                .dump(2)
                  << '\n';
      else
        print_point(f);
      return;
    }
    std::vector<experiments::lsh_figures> points;
    for (const int seq : o->sweep) {
      auto point = config;
      point.seq = seq;
      point.run_naive = config.run_naive && seq <= o->naive_max;
      point.run_exact = config.run_exact && seq <= o->naive_max;
      points.push_back(experiments::run_lsh(point));
    }
    print_sweep(points, o->json);
  });
}

}  // namespace memlab::bench
