// memlab-bench — run core's experiments natively and print their figures.
//
//   memlab-bench attention --seq 1024 --head-dim 64 --heads 4 [--kv-heads N]
//                          [--causal] [--block N] [--repeats N] [--threads N] [--json]
//   memlab-bench flash-backward --seq 1024 --head-dim 64 --heads 4 [--kv-heads N]
//                               [--causal] [--block N] [--repeats N] [--no-naive] [--json]
//   memlab-bench io-bytes [--seq 256,512,1024,2048] [--fast-kib 128[,...]] [--head-dim 64]
//                         [--heads 1] [--kv-heads N] [--causal] [--no-naive] [--json]
//   memlab-bench generate --tokens 100 [--no-cache] [--kv-heads N] [--table] [--json]
//   memlab-bench quant --rows 4096 --cols 4096 --format q4_0|all [--granularity G]
//                      [--group N] [--distribution gaussian|heavy] [--json]
//   memlab-bench quant-gpt [--format q8_0|all] [--json]
//   memlab-bench paged --requests 200 --block 16 [--budget SLOTS] [--rate R]
//                      [--preemption recompute|swap] [--shared-prefix N] [--json]
//   memlab-bench checkpoint --layers 16 --policy sqrt|none|every:K|set:I,J|all [--json]
//   memlab-bench train [--text data/corpus.txt] [--steps 300] [--save tiny-gpt.bin] [--json]
//   memlab-bench lora [--rank 8] [--steps N] [--json]
//   memlab-bench lsh [--seq 1024] [--buckets 16] [--rounds 2] [--chunk 64] [--data clustered]
//                    [--sweep 512,1024,...] [--errors] [--json]
//   memlab-bench precision [--seq 256] [--logit-scale 1] [--sweep-seq ...] [--sweep-scale ...]
//                          [--histogram] [--json]
//   memlab-bench moe [--experts 2,4,8,16,32] [--top-k 2] [--steps 600] [--aux 0.01] [--json]
//   memlab-bench plan --preset NAME [--weights FMT] [--kv FMT] [--seq N] [--batch N]
//                     [--train none|full|lora|qlora] [--checkpoint POLICY] [--json]
//   memlab-bench report [--threads N] [--no-naive] [--json]   the headline figures in one table
//   memlab-bench <command> --help
#include <iostream>

#include "commands.hpp"

namespace memlab::bench {

std::string bytes_text(double bytes) {
  if (bytes < 0) return "n/a";
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (bytes >= 1024 && u < 3) bytes /= 1024, ++u;
  return number_text(u == 0 ? "%.0f " : "%.2f ", bytes) + units[u];
}

std::string number_text(const char* format, double x) {
  char text[64];
  std::snprintf(text, sizeof text, format, x);
  return text;
}

nlohmann::json to_json(const run_figures& f) {
  if (!f.ran) return nullptr;
  return {{"median_ms", f.median_ms},
          {"gflops", f.gflops},
          {"peak_bytes", f.peak_bytes},
          {"peak_rss_bytes",
           f.peak_rss_bytes < 0 ? nlohmann::json(nullptr) : nlohmann::json(f.peak_rss_bytes)}};
}

}  // namespace memlab::bench

int main(int argc, char** argv) {
  CLI::App app{"memlab-bench: run memlab's experiments natively and print their figures"};
  app.require_subcommand(1);
  memlab::bench::add_attention_command(app);
  memlab::bench::add_flash_backward_command(app);
  memlab::bench::add_io_bytes_command(app);
  memlab::bench::add_generate_command(app);
  memlab::bench::add_quant_command(app);
  memlab::bench::add_quant_gpt_command(app);
  memlab::bench::add_paged_command(app);
  memlab::bench::add_checkpoint_command(app);
  memlab::bench::add_train_command(app);
  memlab::bench::add_lora_command(app);
  memlab::bench::add_lsh_command(app);
  memlab::bench::add_precision_command(app);
  memlab::bench::add_moe_command(app);
  memlab::bench::add_plan_command(app);
  memlab::bench::add_report_command(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  } catch (const std::exception& e) {  // bad input reported by core, from a callback
    std::cerr << "memlab-bench: " << e.what() << '\n';
    return 2;
  }
  return 0;
}
