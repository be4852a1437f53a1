// commands.hpp — each experiment family adds one subcommand to memlab-bench, in a
// file of its own (attention.cpp, ...), registered in main.cpp.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

#include "base/measure.hpp"
#include "model/generate.hpp"

namespace memlab::bench {

// Adds the subcommand to app; its callback runs the experiment and prints.
void add_attention_command(CLI::App& app);
void add_generate_command(CLI::App& app);
void add_quant_command(CLI::App& app);
void add_quant_gpt_command(CLI::App& app);
void add_paged_command(CLI::App& app);
void add_checkpoint_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_lora_command(CLI::App& app);
void add_report_command(CLI::App& app);

// "1.50 MiB"; "n/a" for negative (unknown) sizes.
std::string bytes_text(double bytes);
// printf-style formatting of one number.
std::string number_text(const char* format, double x);
// A run's figures as JSON; null when it did not run.
nlohmann::json to_json(const run_figures& f);

// The fastest of `repeats` generations (tools/bench/generate.cpp).
experiments::generation_figures fastest_generation(const gpt::model& model,
                                                   const experiments::generation_config& config,
                                                   int repeats);

}  // namespace memlab::bench
