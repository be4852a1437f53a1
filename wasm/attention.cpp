// attention.cpp — attention for JS: the flash-vs-naive experiment
// (attention/experiment.hpp), and naive and flash attention on Float32Arrays.
// Translation only.
#include "attention/attention.hpp"

#include <string>
#include <vector>

#include "api.hpp"
#include "attention/experiment.hpp"
#include "base/error.hpp"
#include "base/limits.hpp"

using namespace emscripten;
using namespace memlab;
using memlab::wasm::def;

namespace {

// Sizes as they come from JS: signed, so that a negative value is named as such.
struct js_shape {
  int heads, kv_heads, seq_q, seq_kv, head_dim;
};

attention::shape to_shape(const js_shape& s) {
  return {require_positive(s.heads, "heads"), require_positive(s.kv_heads, "kv_heads"),
          require_positive(s.seq_q, "seq_q"), require_positive(s.seq_kv, "seq_kv"),
          require_positive(s.head_dim, "head_dim")};
}

// A Float32Array of heads·seq·head_dim floats as a [heads, seq, head_dim] tensor
// (memlab.mjs checked the length; checked again here, in 64 bits).
tensor<3> to_tensor(const val& array, const char* name, std::size_t heads, std::size_t seq,
                    std::size_t head_dim) {
  const count expected = count(heads) * seq * head_dim;
  const std::vector<float> values = convertJSArrayToNumberVector<float>(array);
  require(count(values.size()) == expected, name, values.size(), [&] {
    return "heads · seq · head_dim = " + std::to_string(expected.value()) + " floats";
  });
  tensor<3> t = tensor<3>::from_shape({heads, seq, head_dim});
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

val to_float32_array(const tensor<3>& t) {
  // A view into wasm memory, copied by slice() before the tensor is freed.
  return val(typed_memory_view(t.size(), t.data())).call<val>("slice");
}

val attention_js(val q, val k, val v, js_shape js, bool causal, int block_q, int block_kv,
                 bool flash) {
  const attention::shape s = to_shape(js);
  attention::check_shape(s, causal);
  const tensor<3> qt = to_tensor(q, "q.length", s.heads, s.seq_q, s.head_dim);
  const tensor<3> kt = to_tensor(k, "k.length", s.kv_heads, s.seq_kv, s.head_dim);
  const tensor<3> vt = to_tensor(v, "v.length", s.kv_heads, s.seq_kv, s.head_dim);
  if (!flash) return to_float32_array(attention::naive(qt, kt, vt, causal));
  const attention::flash_options options{causal, require_positive(block_q, "block_q"),
                                         require_positive(block_kv, "block_kv")};
  return to_float32_array(attention::flash(qt, kt, vt, options));
}

val naive_attention(val q, val k, val v, js_shape s, bool causal) {
  return attention_js(q, k, v, s, causal, 1, 1, false);
}

val flash_attention(val q, val k, val v, js_shape s, bool causal, int block_q, int block_kv) {
  return attention_js(q, k, v, s, causal, block_q, block_kv, true);
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_attention) {
  wasm::object<js_shape>("AttentionShape")
      .field("heads", &js_shape::heads)
      .field("kvHeads", &js_shape::kv_heads)
      .field("seqQ", &js_shape::seq_q)
      .field("seqKv", &js_shape::seq_kv)
      .field("headDim", &js_shape::head_dim);

  wasm::object<experiments::attention_config>("AttentionConfig")
      .field("seq", &experiments::attention_config::seq)
      .field("headDim", &experiments::attention_config::head_dim)
      .field("heads", &experiments::attention_config::heads)
      .field("kvHeads", &experiments::attention_config::kv_heads)
      .field("causal", &experiments::attention_config::causal)
      .field("blockQ", &experiments::attention_config::block_q)
      .field("blockKv", &experiments::attention_config::block_kv)
      .field("repeats", &experiments::attention_config::repeats)
      .field("seed", &experiments::attention_config::seed)
      .field("runNaive", &experiments::attention_config::run_naive);

  wasm::object<experiments::attention_figures>("AttentionFigures")
      .field("config", &experiments::attention_figures::config)
      .field("naive", &experiments::attention_figures::naive)
      .field("flash", &experiments::attention_figures::flash)
      .field("maxAbsDiff", &experiments::attention_figures::max_abs_diff)
      .field("kvBytes", &experiments::attention_figures::kv_bytes)
      .field("flops", &experiments::attention_figures::flops);

  def<&experiments::run_attention>("runAttention", "config");
  // q [heads, seq_q, head_dim], k and v [kv_heads, seq_kv, head_dim], flattened.
  const auto q = wasm::float32_array("q", {"shape.heads", "shape.seqQ", "shape.headDim"});
  const auto k = wasm::float32_array("k", {"shape.kvHeads", "shape.seqKv", "shape.headDim"});
  const auto v = wasm::float32_array("v", {"shape.kvHeads", "shape.seqKv", "shape.headDim"});
  def<&naive_attention>("naiveAttention", q, k, v, "shape", "causal");
  def<&flash_attention>("flashAttention", q, k, v, "shape", "causal", "blockQ", "blockKv");
}
