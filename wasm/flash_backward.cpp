// flash_backward.cpp — a training step of one attention layer for JS: forward then
// backward, naive (P kept) against flash (recomputed). Translation only.
#include "api.hpp"
#include "attention/experiment.hpp"

using namespace memlab;
using memlab::wasm::def;

EMSCRIPTEN_BINDINGS(memlab_flash_backward) {
  using figures = experiments::flash_backward_figures;
  // its config is run_attention's, AttentionConfig (attention.cpp)
  wasm::object<figures>("FlashBackwardFigures")
      .field("config", &figures::config)
      .field("naive", &figures::naive)
      .field("flash", &figures::flash)
      .field("maxRelDiff", &figures::max_rel_diff)
      .field("flops", &figures::flops);

  def<&experiments::run_flash_backward>("runFlashBackward", "config");
}
