// flash_trace.cpp — flash attention's forward pass step by step for JS: the inputs,
// every (Q tile, K/V tile) step's scores, running max and sum, rescale factors and
// partial outputs, and naive attention's probabilities and output on the same
// inputs (attention/flash_trace.hpp). Translation only.
#include "attention/flash_trace.hpp"

#include <vector>

#include "api.hpp"

using namespace emscripten;
using namespace memlab;
using memlab::wasm::def;

namespace {

val floats(const std::vector<float>& values) {
  // A view into wasm memory, copied by slice() before the vector is freed.
  return val(typed_memory_view(values.size(), values.data())).call<val>("slice");
}

val step(const attention::flash_step& s) {
  val out = val::object();
  out.set("qTile", s.q_tile);
  out.set("kvTile", s.kv_tile);
  out.set("qBegin", s.q_begin);
  out.set("rows", s.rows);
  out.set("kvBegin", s.kv_begin);
  out.set("cols", s.cols);
  out.set("last", s.last);
  out.set("scores", floats(s.scores));
  out.set("probs", floats(s.probs));
  out.set("mOld", floats(s.m_old));
  out.set("mNew", floats(s.m_new));
  out.set("rescale", floats(s.rescale));
  out.set("lOld", floats(s.l_old));
  out.set("lNew", floats(s.l_new));
  out.set("acc", floats(s.acc));
  out.set("out", floats(s.out));
  return out;
}

val run_flash_trace(experiments::flash_trace_config config) {
  const auto f = experiments::run_flash_trace(config);
  val out = val::object();
  out.set("config", f.config);
  out.set("scale", f.scale);
  out.set("q", floats(f.q));
  out.set("k", floats(f.k));
  out.set("v", floats(f.v));
  val steps = val::array();
  for (const auto& s : f.steps) steps.call<void>("push", step(s));
  out.set("steps", steps);
  out.set("out", floats(f.out));
  out.set("naiveProbs", floats(f.naive_probs));
  out.set("naiveOut", floats(f.naive_out));
  out.set("maxAbsDiff", f.max_abs_diff);
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_flash_trace) {
  using config = experiments::flash_trace_config;
  wasm::object<config>("FlashTraceConfig")
      .field("seq", &config::seq)
      .field("headDim", &config::head_dim)
      .field("blockQ", &config::block_q)
      .field("blockKv", &config::block_kv)
      .field("causal", &config::causal)
      .field("seed", &config::seed);

  def<&run_flash_trace>("runFlashTrace", "config");
}
