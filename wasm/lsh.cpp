// lsh.cpp — LSH attention for JS: the experiment (time, peak and error against
// naive and flash attention), its error table over buckets × rounds, and the
// seeded rotations and buckets (the same natively and in wasm). Translation only.
#include "attention/lsh.hpp"

#include <vector>

#include "api.hpp"
#include "attention/experiment.hpp"
#include "base/error.hpp"
#include "base/limits.hpp"

using namespace emscripten;
using namespace memlab;
using memlab::wasm::def;

namespace {

// [{data, nBuckets, nRounds, maxAbsError, relativeError}]
val lsh_errors(const experiments::lsh_errors_config& config) {
  return wasm::array_of(experiments::run_lsh_errors(config));
}

// A Float32Array of heads·seq·head_dim floats as a [heads, seq, head_dim] tensor
// (memlab.mjs checked the length; checked again here, in 64 bits).
tensor<3> to_tensor(const val& array, std::size_t heads, std::size_t seq, std::size_t head_dim) {
  const count expected = count(heads) * seq * head_dim;
  const std::vector<float> values = convertJSArrayToNumberVector<float>(array);
  require(count(values.size()) == expected, "qk.length", values.size(), [&] {
    return "heads · seq · head_dim = " + std::to_string(expected.value()) + " floats";
  });
  tensor<3> t = tensor<3>::from_shape({heads, seq, head_dim});
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

template <class T>
val typed_array(const T* data, std::size_t n) {
  // A view into wasm memory, copied by slice() before the buffer is freed.
  return val(typed_memory_view(n, data)).call<val>("slice");
}

// The rotations [heads, n_rounds, head_dim, n_buckets / 2] as a Float32Array.
val lsh_rotations(int heads, int head_dim, attention::lsh_options options) {
  const tensor<4> r = attention::lsh_rotations(require_positive(heads, "heads"),
                                               require_positive(head_dim, "head_dim"), options);
  return typed_array(r.data(), r.size());
}

// Buckets [heads, n_rounds, seq] of qk (a Float32Array [heads, seq, head_dim]) as a Uint32Array.
val lsh_buckets(val qk, int heads, int seq, int head_dim, attention::lsh_options options) {
  const tensor<3> t = to_tensor(qk, require_positive(heads, "heads"), require_positive(seq, "seq"),
                                require_positive(head_dim, "head_dim"));
  const buffer<std::uint32_t> b = attention::lsh_buckets(t, options);
  return typed_array(b.data(), b.size());
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_lsh) {
  wasm::object<attention::lsh_options>("LshOptions")
      .field("nBuckets", &attention::lsh_options::n_buckets)
      .field("nRounds", &attention::lsh_options::n_rounds)
      .field("chunk", &attention::lsh_options::chunk)
      .field("causal", &attention::lsh_options::causal)
      .field("seed", &attention::lsh_options::seed);

  wasm::object<experiments::lsh_config>("LshConfig")
      .field("seq", &experiments::lsh_config::seq)
      .field("headDim", &experiments::lsh_config::head_dim)
      .field("heads", &experiments::lsh_config::heads)
      .field("nBuckets", &experiments::lsh_config::n_buckets)
      .field("nRounds", &experiments::lsh_config::n_rounds)
      .field("chunk", &experiments::lsh_config::chunk)
      .field("causal", &experiments::lsh_config::causal)
      .field("data", &experiments::lsh_config::data)
      .field("clusterSize", &experiments::lsh_config::cluster_size)
      .field("repeats", &experiments::lsh_config::repeats)
      .field("seed", &experiments::lsh_config::seed)
      .field("runExact", &experiments::lsh_config::run_exact)
      .field("runNaive", &experiments::lsh_config::run_naive)
      .field("runFlash", &experiments::lsh_config::run_flash);

  wasm::object<experiments::lsh_figures>("LshFigures")
      .field("config", &experiments::lsh_figures::config)
      .field("lsh", &experiments::lsh_figures::lsh)
      .field("exact", &experiments::lsh_figures::exact)
      .field("naive", &experiments::lsh_figures::naive)
      .field("flash", &experiments::lsh_figures::flash)
      .field("maxAbsError", &experiments::lsh_figures::max_abs_error)
      .field("relativeError", &experiments::lsh_figures::relative_error)
      .field("scratchBytes", &experiments::lsh_figures::scratch_bytes);

  wasm::object<experiments::lsh_error_row>("LshErrorRow")
      .field("data", &experiments::lsh_error_row::data)
      .field("nBuckets", &experiments::lsh_error_row::n_buckets)
      .field("nRounds", &experiments::lsh_error_row::n_rounds)
      .field("maxAbsError", &experiments::lsh_error_row::max_abs_error)
      .field("relativeError", &experiments::lsh_error_row::relative_error);

  using experiments::lsh_errors_config;
  wasm::object<lsh_errors_config>("LshErrorsConfig")
      .field("seq", &lsh_errors_config::seq)
      .field("headDim", &lsh_errors_config::head_dim)
      .field("chunk", &lsh_errors_config::chunk)
      .field("causal", &lsh_errors_config::causal)
      .field("clusterSize", &lsh_errors_config::cluster_size)
      .field("buckets", &lsh_errors_config::buckets)
      .field("rounds", &lsh_errors_config::rounds)
      .field("seed", &lsh_errors_config::seed);

  def<&experiments::run_lsh>("runLsh", "config");
  def<&lsh_errors>("runLshErrors", "config");
  def<&lsh_rotations>("lshRotations", "heads", "headDim", "options");
  def<&lsh_buckets>("lshBuckets", wasm::float32_array("qk", {"heads", "seq", "headDim"}), "heads",
                    "seq", "headDim", "options");
}
