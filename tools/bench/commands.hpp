// commands.hpp — each experiment family adds one subcommand to memlab-bench, in a
// file of its own (attention.cpp, ...), registered in main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "attention/experiment.hpp"
#include "base/measure.hpp"

namespace memlab::bench {

// Adds the subcommand to app; its callback runs the experiment and prints.
void add_attention_command(CLI::App& app);
void add_flash_backward_command(CLI::App& app);
void add_io_bytes_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_quant_command(CLI::App& app);
void add_quant_gpt_command(CLI::App& app);
void add_paged_command(CLI::App& app);
void add_checkpoint_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_lora_command(CLI::App& app);
void add_report_command(CLI::App& app);
void add_moe_command(CLI::App& app);
void add_plan_command(CLI::App& app);
void add_lsh_command(CLI::App& app);
void add_precision_command(CLI::App& app);

// The options the attention subcommands share (attention, flash-backward): sizes,
// tiles, repeats, seed, --no-naive and --json, over an attention_config
// (bench/attention.cpp).
struct attention_options {
  experiments::attention_config config;
  int kv_heads = 0;  // 0: heads
  int block = 0;     // 0: --block-q and --block-kv as given
  bool no_naive = false;
  bool json = false;
};
void add_attention_options(CLI::App* cmd, attention_options& o);
// The config the parsed options give.
experiments::attention_config attention_config_of(const CLI::App* cmd, const attention_options& o);
nlohmann::json to_json(const experiments::attention_config& c);
// Time, GFLOP/s, tracked peak and peak RSS of runs side by side, one column each.
void print_runs(std::initializer_list<std::pair<const char*, const run_figures*>> runs);
// The same for naive and flash.
void print_naive_vs_flash(const run_figures& naive, const run_figures& flash);

// "1.50 MiB"; "n/a" for negative (unknown) sizes.
std::string bytes_text(double bytes);
// printf-style formatting of one number.
std::string number_text(const char* format, double x);
// A run's figures as JSON; null when it did not run.
nlohmann::json to_json(const run_figures& f);

}  // namespace memlab::bench
