// moe.cpp — Mixture of Experts for JS (model/moe_experiment.hpp): total vs
// active sizes, tokens per expert after training with and without the
// load-balancing loss, decoding time per token against a dense model of the
// same size. Translation only.
#include <functional>
#include <string>
#include <vector>

#include "api.hpp"
#include "model/moe_experiment.hpp"

using namespace emscripten;
using namespace memlab;

namespace {

// [{experts, parameters, activeParameters, weightBytes, activeBytes}]
val run_moe_sizes(gpt::config model, val experts, int top_k) {
  const auto rows = experiments::run_moe_sizes({model, wasm::integers<int>(experts), top_k});
  val out = val::array();
  for (const auto& r : rows) {
    val row = val::object();
    row.set("experts", r.experts);
    row.set("parameters", double(r.parameters));
    row.set("activeParameters", double(r.active_parameters));
    row.set("weightBytes", double(r.weight_bytes));
    row.set("activeBytes", double(r.active_bytes));
    out.call<void>("push", row);
  }
  return out;
}

val balance_run(const experiments::moe_balance_run& r) {
  val out = val::object();
  out.set("auxLossCoef", r.aux_loss_coef);
  val layers = val::array();
  for (const auto& layer : r.choices) layers.call<void>("push", wasm::array_of(layer));
  out.set("perLayer", layers);
  out.set("total", wasm::array_of(r.total));
  out.set("maxOverMean", r.max_over_mean);
  out.set("finalLoss", r.final_loss);
  out.set("losses", wasm::array_of(r.losses));
  return out;
}

// {evalTokens, without, with}; onStep({done, total}) after every training step.
val run_moe_balance(experiments::moe_balance_config config, val on_step) {
  std::function<void(int, int)> progress;
  if (on_step.typeOf().as<std::string>() == "function")
    progress = [&on_step](int done, int total) {
      val p = val::object();
      p.set("done", done);
      p.set("total", total);
      on_step(p);
    };
  const auto f = experiments::run_moe_balance(config, progress);
  val out = val::object();
  out.set("evalTokens", double(f.eval_tokens));
  out.set("without", balance_run(f.without));
  out.set("with", balance_run(f.with));
  return out;
}

// [{experts, moeParameters, denseParameters, moeMsPerToken, denseMsPerToken}]
val run_moe_speed(gpt::config model, val experts, int top_k, int tokens, int repeats) {
  const auto rows =
      experiments::run_moe_speed({model, wasm::integers<int>(experts), top_k, tokens, repeats});
  val out = val::array();
  for (const auto& r : rows) {
    val row = val::object();
    row.set("experts", r.experts);
    row.set("moeParameters", double(r.moe_parameters));
    row.set("denseParameters", double(r.dense_parameters));
    row.set("moeMsPerToken", r.moe_ms_per_token);
    row.set("denseMsPerToken", r.dense_ms_per_token);
    out.call<void>("push", row);
  }
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_moe) {
  wasm::object<experiments::moe_balance_config>("MoeBalanceConfig")
      .field("model", &experiments::moe_balance_config::model)
      .field("experts", &experiments::moe_balance_config::experts)
      .field("topK", &experiments::moe_balance_config::top_k)
      .field("capacityFactor", &experiments::moe_balance_config::capacity_factor)
      .field("auxLossCoef", &experiments::moe_balance_config::aux_loss_coef)
      .field("steps", &experiments::moe_balance_config::steps)
      .field("batch", &experiments::moe_balance_config::batch)
      .field("seq", &experiments::moe_balance_config::seq)
      .field("lr", &experiments::moe_balance_config::lr)
      .field("text", &experiments::moe_balance_config::text)
      .field("evalText", &experiments::moe_balance_config::eval_text)
      .field("seed", &experiments::moe_balance_config::seed);
  wasm::def<&run_moe_sizes>("runMoeSizes", "model", wasm::integer_array("experts", 0, 2147483647),
                            "topK");
  wasm::def<&run_moe_balance>("runMoeBalance", "config", wasm::callback("onStep"));
  wasm::def<&run_moe_speed>("runMoeSpeed", "model", wasm::integer_array("experts", 0, 2147483647),
                            "topK", "tokens", "repeats");
}
