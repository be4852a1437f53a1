// memlab-bench paged — serve a seeded request stream from one KV memory budget:
// static and continuous batching over contiguous max-length caches vs continuous
// batching over the paged pool; waste, concurrency, throughput, preemptions, and
// the waste of the paged pool per block size.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "paged_kv_cache/serving.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

json to_json(const serving::server_figures& f, double bytes_per_token) {
  json timeline = json::array();
  for (const auto& p : f.chart)
    timeline.push_back({{"step", p.step},
                        {"running", p.running},
                        {"waiting", p.waiting},
                        {"allocated_slots", p.allocated},
                        {"used_slots", p.used},
                        {"wasted_slots", p.wasted},
                        {"tokens_so_far", p.tokens_so_far}});
  return {{"name", f.name},
          {"steps", f.steps},
          {"tokens", f.tokens},
          {"computed", f.computed},
          {"tokens_per_step", f.tokens_per_step},
          {"mean_running", f.mean_running},
          {"max_running", f.max_running},
          {"waste", f.waste},
          {"slot_steps",
           {{"allocated", f.allocated_slot_steps},
            {"used", f.used_slot_steps},
            {"reservation", f.reservation_slot_steps},
            {"fragmentation", f.fragmentation_slot_steps},
            {"idle", f.idle_slot_steps}}},
          {"peak_allocated_slots", f.peak_allocated},
          {"peak_allocated_bytes", double(f.peak_allocated) * bytes_per_token},
          {"max_shared_blocks", f.max_shared_blocks},
          {"preemptions", f.preemptions},
          {"recomputed_tokens", f.recomputed_tokens},
          {"swapped_blocks", f.swapped_blocks},
          {"mean_latency_steps", f.mean_latency},
          {"mean_normalized_latency", f.mean_normalized_latency},
          {"timeline", timeline}};
}

json config_json(const serving::serving_config& c) {
  const auto& s = c.stream;
  return {{"requests", s.requests},
          {"rate", s.rate},
          {"prompt_mean", s.prompt_mean},
          {"prompt_sigma", s.prompt_sigma},
          {"output_mean", s.output_mean},
          {"output_sigma", s.output_sigma},
          {"max_seq", s.max_seq},
          {"shared_prefix", s.shared_prefix},
          {"seed", s.seed},
          {"budget_slots", c.budget},
          {"block_size", c.block_size},
          {"max_batch", c.max_batch},
          {"watermark", c.watermark},
          {"preemption", c.preemption},
          {"kv_bytes_per_token", c.kv_bytes_per_token}};
}

// Share of allocated slots by kind, over a run.
std::string shares(const serving::server_figures& f) {
  const double a = f.allocated_slot_steps;
  if (a <= 0) return "-";
  return number_text("%.1f%% reserved, ", 100 * f.reservation_slot_steps / a) +
         number_text("%.1f%% fragmentation, ", 100 * f.fragmentation_slot_steps / a) +
         number_text("%.1f%% idle", 100 * f.idle_slot_steps / a);
}

void print_table(const serving::serving_figures& r,
                 const std::vector<serving::serving_figures>& sweep) {
  const auto& c = r.config;
  std::printf(
      "paged: %zu requests, Poisson %.3g/step (last arrives at step %d), prompt mean %.1f, output "
      "mean %.1f "
      "tokens (max_seq %d, shared prefix %d), seed %u\n",
      r.requests, c.stream.rate, r.last_arrival, r.mean_prompt, r.mean_output, c.stream.max_seq,
      c.stream.shared_prefix, c.stream.seed);
  std::printf(
      "  KV budget %d token slots = %s at %.0f B/token; paged blocks of %d tokens; preemption %s\n",
      c.budget, bytes_text(c.budget * c.kv_bytes_per_token).c_str(), c.kv_bytes_per_token,
      c.block_size, c.preemption.c_str());
  std::printf("  %-22s %7s %9s %9s %8s %7s %11s %8s %9s %9s\n", "server", "steps", "tok/step",
              "mean run", "max run", "waste", "peak memory", "preempt", "latency", "norm lat");
  for (const auto* f : {&r.static_batching, &r.continuous_contiguous, &r.paged}) {
    if (f->steps == 0) continue;
    std::printf("  %-22s %7d %9.2f %9.2f %8d %6.1f%% %11s %8d %9.1f %9.2f\n", f->name.c_str(),
                f->steps, f->tokens_per_step, f->mean_running, f->max_running, 100 * f->waste,
                bytes_text(double(f->peak_allocated) * c.kv_bytes_per_token).c_str(),
                f->preemptions, f->mean_latency, f->mean_normalized_latency);
    std::printf("  %-22s waste = %s\n", "", shares(*f).c_str());
  }
  if (r.static_batching.steps > 0)
    std::printf(
        "  continuous paged / static: %.2fx tokens per step, %.2fx concurrent sequences; "
        "/ continuous contiguous: %.2fx tokens per step\n",
        r.throughput_gain, r.concurrency_gain, r.paging_gain);
  if (r.paged.max_shared_blocks > 0)
    std::printf("  prefix sharing: up to %zu blocks shared at once\n", r.paged.max_shared_blocks);
  if (r.paged.recomputed_tokens + r.paged.swapped_blocks > 0)
    std::printf("  preemption cost: %zu tokens recomputed, %zu blocks swapped\n",
                r.paged.recomputed_tokens, r.paged.swapped_blocks);
  if (!sweep.empty()) {
    std::printf(
        "  paged waste by block size (contiguous max-length: %.1f%% static, %.1f%% continuous):\n",
        100 * r.static_batching.waste, 100 * r.continuous_contiguous.waste);
    std::printf("  %8s %8s %9s %9s %8s\n", "block", "waste", "tok/step", "mean run", "preempt");
    for (const auto& s : sweep)
      std::printf("  %8d %7.2f%% %9.2f %9.2f %8d\n", s.config.block_size, 100 * s.paged.waste,
                  s.paged.tokens_per_step, s.paged.mean_running, s.paged.preemptions);
  }
  std::printf(
      "  waste = 1 - used / allocated token slots, summed over steps; a step produces one token "
      "per\n"
      "  running sequence; latency in steps from arrival to last token (normalized: per output "
      "token)\n");
}

}  // namespace

void add_paged_command(CLI::App& app) {
  struct options {
    serving::serving_config config;
    std::vector<int> sweep{1, 2, 4, 8, 16, 32, 64, 128, 256};
    bool no_sweep = false;
    int timeline = 50;
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto& c = o->config;
  auto* cmd =
      app.add_subcommand("paged",
                         "serve a request stream: static and continuous batching over "
                         "contiguous caches vs continuous batching over the paged KV cache");
  cmd->add_option("--requests", c.stream.requests, "requests in the stream")->capture_default_str();
  cmd->add_option("--rate", c.stream.rate, "arrivals per step (Poisson)")->capture_default_str();
  cmd->add_option("--prompt-mean", c.stream.prompt_mean, "mean prompt tokens (log-normal)")
      ->capture_default_str();
  cmd->add_option("--output-mean", c.stream.output_mean, "mean output tokens (log-normal)")
      ->capture_default_str();
  cmd->add_option("--max-seq", c.stream.max_seq,
                  "prompt + output at most; the contiguous reservation")
      ->capture_default_str();
  cmd->add_option("--shared-prefix", c.stream.shared_prefix,
                  "system-prompt tokens every request starts with")
      ->capture_default_str();
  cmd->add_option("--seed", c.stream.seed, "seed of the stream")->capture_default_str();
  cmd->add_option("--budget", c.budget, "KV memory in token slots, for both servers")
      ->capture_default_str();
  cmd->add_option("--block", c.block_size, "tokens per block of the paged pool")
      ->capture_default_str();
  cmd->add_option("--max-batch", c.max_batch, "most running sequences")->capture_default_str();
  cmd->add_option("--watermark", c.watermark, "share of blocks kept free when admitting")
      ->capture_default_str();
  cmd->add_option("--preemption", c.preemption, "recompute or swap")->capture_default_str();
  cmd->add_option("--kv-bytes-per-token", c.kv_bytes_per_token,
                  "bytes of K and V per token of the model reported "
                  "on (default OPT-13B fp16)")
      ->capture_default_str();
  cmd->add_option("--sweep", o->sweep, "block sizes for the waste sweep")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_flag("--no-sweep", o->no_sweep, "skip the block-size sweep");
  cmd->add_option("--timeline", o->timeline, "points of the downsampled timeline in --json")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([o] {
    const auto result = o->json ? serving::run_serving(o->config, o->timeline)  // with charts
                                : serving::run_serving(o->config);
    std::vector<serving::serving_figures> sweep;
    if (!o->no_sweep)
      for (int block : o->sweep) {
        auto c = o->config;
        c.block_size = block;
        c.run_contiguous = false;
        sweep.push_back(serving::run_serving(c));
      }
    if (!o->json) {
      print_table(result, sweep);
      return;
    }
    const double bpt = o->config.kv_bytes_per_token;
    json sweep_json = json::array();
    for (const auto& s : sweep)
      sweep_json.push_back({{"block_size", s.config.block_size},
                            {"waste", s.paged.waste},
                            {"tokens_per_step", s.paged.tokens_per_step},
                            {"mean_running", s.paged.mean_running},
                            {"preemptions", s.paged.preemptions}});
    const json out = {{"experiment", "paged"},
                      {"config", config_json(o->config)},
                      {"stream",
                       {{"requests", result.requests},
                        {"mean_prompt", result.mean_prompt},
                        {"mean_output", result.mean_output},
                        {"output_tokens", result.output_tokens},
                        {"last_arrival", result.last_arrival}}},
                      {"static", to_json(result.static_batching, bpt)},
                      {"continuous_contiguous", to_json(result.continuous_contiguous, bpt)},
                      {"continuous_paged", to_json(result.paged, bpt)},
                      {"throughput_gain", result.throughput_gain},
                      {"concurrency_gain", result.concurrency_gain},
                      {"paging_gain", result.paging_gain},
                      {"block_sweep", sweep_json}};
    std::cout << out.dump(2) << '\n';
  });
}

}  // namespace memlab::bench
