// memlab-bench generate — the tiny GPT generating text with and without a KV cache
// (experiments::run_generation and run_generation_table, kv_cache/experiment.hpp).
//
//   memlab-bench generate --tokens 100 [--no-cache] [--kv-heads N] [--json]
//   memlab-bench generate --table [--repeats 3]   tokens/s with and without cache for 10 ... 500
//                                                 tokens, the fastest of 3 runs each
#include <iostream>
#include <memory>

#include "base/error.hpp"
#include "commands.hpp"
#include "kv_cache/experiment.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

// Bytes as readable text: printable ASCII as is, everything else as \xNN.
std::string printable(const std::string& bytes) {
  std::string out;
  for (unsigned char ch : bytes) {
    if (ch >= 32 && ch < 127)
      out.push_back(static_cast<char>(ch));
    else
      out += number_text("\\x%02X", ch);
  }
  return out;
}

json to_json(const experiments::generation_figures& f) {
  const auto& m = f.config.model;
  return {{"model",
           {{"layers", m.layers},
            {"d_model", m.d_model},
            {"heads", m.heads},
            {"kv_heads", m.kv_heads},
            {"d_ff", m.d_ff},
            {"max_seq", m.max_seq}}},
          {"prompt", f.config.prompt},
          {"tokens", f.config.tokens},
          {"use_cache", f.config.use_cache},
          {"text", printable(f.text)},
          {"ms", f.ms},
          {"tokens_per_second", f.tokens_per_second},
          {"first_token_ms", f.first_token_ms},
          {"step_us", f.step_us},
          {"cache_bytes", f.cache_bytes},
          {"kv_bytes_per_token", f.kv_bytes_per_token},
          {"weight_bytes", f.weight_bytes},
          {"peak_bytes", f.peak_bytes}};
}

void print_one(const experiments::generation_figures& f, bool as_json) {
  if (as_json) {
    std::cout << to_json(f).dump(2) << '\n';
    return;
  }
  const auto& m = f.config.model;
  std::printf("generate: layers %d, d_model %d, heads %d, kv_heads %d, max_seq %d, %s\n", m.layers,
              m.d_model, m.heads, m.kv_heads, m.max_seq,
              f.config.use_cache ? "KV cache" : "no cache");
  std::printf("  %-22s %s\n", "prompt", printable(f.config.prompt).c_str());
  std::printf("  %-22s %s\n", "generated", printable(f.text).c_str());
  std::printf("  %-22s %d in %.1f ms: %.1f tokens/s\n", "tokens", f.config.tokens, f.ms,
              f.tokens_per_second);
  std::printf("  %-22s %.2f ms (the prompt's prefill), then %.1f us a token\n", "first token",
              f.first_token_ms, f.step_us);
  std::printf("  %-22s %s (%s per token)\n", "KV cache", bytes_text(double(f.cache_bytes)).c_str(),
              bytes_text(double(f.kv_bytes_per_token)).c_str());
  std::printf("  %-22s %s\n", "weights", bytes_text(double(f.weight_bytes)).c_str());
  std::printf("  %-22s %s\n", "tracked peak heap", bytes_text(double(f.peak_bytes)).c_str());
}

// The seed lab's table (TinyTorch's memoization module), with our figures.
void print_table(const experiments::generation_config& config, int repeats, bool as_json) {
  const auto table =
      experiments::run_generation_table(config, {10, 25, 50, 100, 200, 500}, repeats);
  const auto& pass = table.read;
  if (as_json) {
    json rows = json::array();
    for (const auto& r : table.rows)
      rows.push_back({{"tokens", r.tokens},
                      {"no_cache", to_json(r.no_cache)},
                      {"cache", to_json(r.cache)},
                      {"speedup", r.speedup},
                      {"speedup_ceiling", r.speedup_ceiling}});
    std::cout << json{{"repeats", table.repeats},
                      {"weight_read",
                       {{"bytes", pass.bytes}, {"us", pass.us}, {"products_us", pass.products_us}}},
                      {"rows", rows}}
                     .dump(2)
              << '\n';
    return;
  }
  std::printf("%8s %16s %16s %9s %9s %12s\n", "tokens", "no cache tok/s", "cache tok/s", "speedup",
              "ceiling", "cached step");
  for (const auto& r : table.rows)
    std::printf("%8d %16.1f %16.1f %8.1fx %8.1fx %9.1f us\n", r.tokens,
                r.no_cache.tokens_per_second, r.cache.tokens_per_second, r.speedup,
                r.speedup_ceiling, r.cache.step_us);
  std::printf(
      "Fastest of %d runs each. A cached step (a token after the first, whose time is the\n"
      "prompt's prefill) still reads every weight it multiplies: %s\n"
      "per token (plus %s of K and V per cached token). Reading them once takes %.3g us\n"
      "here (%.1f GB/s): that floor under each cached step is the ceiling column, the\n"
      "uncached time over tokens x %.3g us. Decoding one token does so little arithmetic\n"
      "per byte that memory bandwidth bounds it; the uncached runs reuse each weight\n"
      "across the whole sequence.\n",
      repeats, bytes_text(double(pass.bytes)).c_str(),
      bytes_text(double(gpt::kv_cache_bytes(config.model, 1))).c_str(), pass.us,
      double(pass.bytes) / pass.us * 1e-3, pass.us);
}

}  // namespace

void add_generate_command(CLI::App& app) {
  struct options {
    experiments::generation_config config;
    bool no_cache = false;
    bool table = false;
    bool json = false;
    int kv_heads = 0;
    int repeats = 3;
  };
  auto o = std::make_shared<options>();
  auto& m = o->config.model;
  auto* cmd = app.add_subcommand("generate", "the tiny GPT generating with and without a KV cache");
  cmd->add_option("--tokens", o->config.tokens, "new tokens to generate")->capture_default_str();
  cmd->add_flag("--no-cache", o->no_cache, "recompute the whole prefix every step");
  cmd->add_option("--kv-heads", o->kv_heads, "key/value heads (default: heads, i.e. MHA)");
  cmd->add_option("--layers", m.layers, "decoder layers")->capture_default_str();
  cmd->add_option("--d-model", m.d_model, "model width")->capture_default_str();
  cmd->add_option("--heads", m.heads, "query heads")->capture_default_str();
  cmd->add_option("--d-ff", m.d_ff, "MLP hidden size")->capture_default_str();
  cmd->add_option("--max-seq", m.max_seq, "positions (prompt + new tokens)")->capture_default_str();
  cmd->add_option("--prompt", o->config.prompt, "text to continue")->capture_default_str();
  cmd->add_option("--seed", o->config.model_seed, "seed of the weights")->capture_default_str();
  cmd->add_option("--temperature", o->config.sampler.temperature, "0: greedy")
      ->capture_default_str();
  cmd->add_option("--top-k", o->config.sampler.top_k, "sample among the k most likely; 0: all")
      ->capture_default_str();
  cmd->add_flag("--table", o->table,
                "tokens/s with and without cache for 10, 25, 50, 100, 200, 500 tokens");
  cmd->add_option("--repeats", o->repeats, "runs per table entry (the fastest is reported)")
      ->capture_default_str();
  cmd->add_flag("--json", o->json, "print JSON instead of text");
  cmd->callback([cmd, o] {
    auto config = o->config;
    config.model.kv_heads = cmd->count("--kv-heads") ? o->kv_heads : config.model.heads;
    config.use_cache = !o->no_cache;
    if (o->table)
      print_table(config, o->repeats, o->json);
    else
      print_one(experiments::run_generation(config), o->json);
  });
}

}  // namespace memlab::bench
