// memlab-bench io-bytes — the bytes naive, flash and LSH attention move between slow
// memory and a fast memory of M bytes, forward and backward, counted by the
// kernels, for every seq and M given (attention/io_bytes.hpp).
#include <iostream>
#include <memory>
#include <vector>

#include "attention/experiment.hpp"
#include "base/error.hpp"
#include "commands.hpp"

namespace memlab::bench {
namespace {

using nlohmann::json;

json to_json(const experiments::io_count& c) {
  if (!c.ran) return nullptr;
  return {{"read", c.read},
          {"written", c.written},
          {"formula_read", c.formula_read},
          {"formula_written", c.formula_written}};
}

bool matches(const experiments::io_count& c) {
  return !c.ran || (c.read == c.formula_read && c.written == c.formula_written);
}

std::string total(const experiments::io_count& c) {
  return c.ran ? bytes_text(c.read + c.written) : "-";
}

}  // namespace

void add_io_bytes_command(CLI::App& app) {
  struct options {
    experiments::io_bytes_config config;
    std::vector<int> seqs{256, 512, 1024, 2048};
    std::vector<int> fast_kib{128};
    int kv_heads = 0;
    bool no_naive = false;
    bool json = false;
  };
  auto o = std::make_shared<options>();
  auto* cmd = app.add_subcommand(
      "io-bytes", "bytes moved between slow and fast memory: naive vs flash, forward + backward");
  cmd->add_option("--seq", o->seqs, "sequence lengths")->delimiter(',')->capture_default_str();
  cmd->add_option("--fast-kib", o->fast_kib, "fast memory M in KiB (several: a sweep)")
      ->delimiter(',')
      ->capture_default_str();
  cmd->add_option("--head-dim", o->config.head_dim, "size of one head")->capture_default_str();
  cmd->add_option("--heads", o->config.heads, "query heads")->capture_default_str();
  cmd->add_option("--kv-heads", o->kv_heads,
                  "key/value heads, a divisor of heads (default: heads)");
  cmd->add_flag("--causal", o->config.causal, "causal mask (tiles above the diagonal skipped)");
  cmd->add_option("--seed", o->config.seed, "seed of the random inputs")->capture_default_str();
  cmd->add_option("--lsh-buckets", o->config.lsh_buckets, "LSH attention's n_buckets")
      ->capture_default_str();
  cmd->add_option("--lsh-rounds", o->config.lsh_rounds, "LSH attention's hashing rounds")
      ->capture_default_str();
  cmd->add_option("--lsh-chunk", o->config.lsh_chunk, "LSH attention's chunk")
      ->capture_default_str();
  cmd->add_flag("--no-naive", o->no_naive, "skip the naive kernels");
  cmd->add_flag("--json", o->json, "print JSON instead of a table");
  cmd->callback([cmd, o] {
    auto config = o->config;
    config.kv_heads = cmd->count("--kv-heads") ? o->kv_heads : config.heads;
    config.run_naive = !o->no_naive;
    json points = json::array();
    if (!o->json)
      std::printf("%6s %10s %9s %9s %11s %11s %11s %11s %11s  %s\n", "seq", "M", "fwd tile",
                  "bwd tile", "naive fwd", "naive bwd", "flash fwd", "flash bwd", "LSH fwd",
                  "= closed form");
    for (int seq : o->seqs)
      for (int kib : o->fast_kib) {
        config.seq = seq;
        require(kib > 0 && kib <= (1 << 20), "fast_kib", kib, "in [1, 1048576] (1 GiB)");
        config.fast_bytes = kib * 1024;
        const auto f = experiments::run_io_bytes(config);
        const bool exact = matches(f.naive) && matches(f.naive_backward) && matches(f.flash) &&
                           matches(f.flash_backward) && matches(f.lsh);
        if (o->json) {
          points.push_back({{"seq", seq},
                            {"fast_bytes", config.fast_bytes},
                            {"forward_tiles", {f.forward_block_q, f.forward_block_kv}},
                            {"backward_tiles", {f.backward_block_q, f.backward_block_kv}},
                            {"naive", to_json(f.naive)},
                            {"naive_backward", to_json(f.naive_backward)},
                            {"flash", to_json(f.flash)},
                            {"flash_backward", to_json(f.flash_backward)},
                            {"lsh", to_json(f.lsh)},
                            {"n2d2_over_m", f.n2d2_over_m},
                            {"nd_plus_n2", f.nd_plus_n2},
                            {"matches_closed_form", exact}});
          continue;
        }
        const auto tile = [](int q, int kv) {
          return std::to_string(q) + "x" + std::to_string(kv);
        };
        std::printf("%6d %10s %9s %9s %11s %11s %11s %11s %11s  %s\n", seq,
                    bytes_text(config.fast_bytes).c_str(),
                    tile(f.forward_block_q, f.forward_block_kv).c_str(),
                    tile(f.backward_block_q, f.backward_block_kv).c_str(), total(f.naive).c_str(),
                    total(f.naive_backward).c_str(), total(f.flash).c_str(),
                    total(f.flash_backward).c_str(), total(f.lsh).c_str(), exact ? "yes" : "NO");
      }
    if (o->json)
      std::cout << json{{"experiment", "io-bytes"},
                        {"config",
                         {{"head_dim", config.head_dim},
                          {"heads", config.heads},
                          {"kv_heads", config.kv_heads},
                          {"causal", config.causal},
                          {"seed", config.seed},
                          {"lsh_buckets", config.lsh_buckets},
                          {"lsh_rounds", config.lsh_rounds},
                          {"lsh_chunk", config.lsh_chunk}}},
                        {"points", points}}
                       .dump(2)
                << '\n';
  });
}

}  // namespace memlab::bench
