// io_bytes.cpp — attention I/O bytes for JS: what naive, flash and LSH attention move
// between slow memory and a fast memory of M bytes, counted by the kernels beside
// the closed forms. Translation only.
#include "api.hpp"
#include "attention/experiment.hpp"

using namespace memlab;
using memlab::wasm::def;

EMSCRIPTEN_BINDINGS(memlab_io_bytes) {
  using config = experiments::io_bytes_config;
  using count = experiments::io_count;
  using figures = experiments::io_bytes_figures;
  wasm::object<config>("IoBytesConfig")
      .field("seq", &config::seq)
      .field("headDim", &config::head_dim)
      .field("heads", &config::heads)
      .field("kvHeads", &config::kv_heads)
      .field("causal", &config::causal)
      .field("fastBytes", &config::fast_bytes)
      .field("seed", &config::seed)
      .field("runNaive", &config::run_naive)
      .field("lshBuckets", &config::lsh_buckets)
      .field("lshRounds", &config::lsh_rounds)
      .field("lshChunk", &config::lsh_chunk);
  wasm::object<count>("IoCount")
      .field("read", &count::read)
      .field("written", &count::written)
      .field("formulaRead", &count::formula_read)
      .field("formulaWritten", &count::formula_written)
      .field("ran", &count::ran);
  wasm::object<figures>("IoBytesFigures")
      .field("config", &figures::config)
      .field("forwardBlockQ", &figures::forward_block_q)
      .field("forwardBlockKv", &figures::forward_block_kv)
      .field("backwardBlockQ", &figures::backward_block_q)
      .field("backwardBlockKv", &figures::backward_block_kv)
      .field("naive", &figures::naive)
      .field("naiveBackward", &figures::naive_backward)
      .field("flash", &figures::flash)
      .field("flashBackward", &figures::flash_backward)
      .field("lsh", &figures::lsh)
      .field("n2d2OverM", &figures::n2d2_over_m)
      .field("ndPlusN2", &figures::nd_plus_n2);

  def<&experiments::run_io_bytes>("runIoBytes", "config");
}
