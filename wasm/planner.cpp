// planner.cpp — the memory planner for JS (planner/planner.hpp,
// planner/experiment.hpp): presets, a plan's byte breakdown, the devices it is
// compared with, and the same recipe measured on the tiny GPT. Translation only.
#include "planner/planner.hpp"

#include <string>
#include <vector>

#include "api.hpp"
#include "planner/experiment.hpp"

using namespace emscripten;
using namespace memlab;

namespace {

val breakdown(const planner::breakdown& b) {
  val out = val::object();
  out.set("weights", double(b.weights));
  out.set("weightScales", double(b.weight_scales));
  out.set("kvCache", double(b.kv_cache));
  out.set("activations", double(b.activations));
  out.set("gradients", double(b.gradients));
  out.set("optimizer", double(b.optimizer));
  out.set("adapters", double(b.adapters));
  out.set("total", double(b.total()));
  return out;
}

val result(const planner::plan_result& p) {
  val out = val::object();
  out.set("model", p.model);
  out.set("recipe", p.how);
  out.set("bytes", breakdown(p.bytes));
  out.set("paramsTotal", double(p.params_total));
  out.set("paramsActive", double(p.params_active));
  out.set("paramsTrainable", double(p.params_trainable));
  out.set("kvTokens", double(p.kv_tokens));
  out.set("notes", wasm::array_of(p.notes));
  return out;
}

val plan(planner::model_shape model, planner::recipe recipe) {
  return result(planner::plan(model, recipe));
}

val planner_presets() { return wasm::array_of(planner::preset_names()); }

planner::model_shape planner_preset(std::string preset) { return planner::preset(preset); }

// [{label, bytes}]
val planner_devices() {
  val out = val::array();
  for (const auto& d : planner::devices()) {
    val row = val::object();
    row.set("label", d.label);
    row.set("bytes", double(d.bytes));
    out.call<void>("push", row);
  }
  return out;
}

// {model: the tiny GPT's config, recipe (as run), adapted, plan, rows: [{name,
// predicted, measured (null: not measured)}], allEqual}
val run_planner_check(experiments::planner_check_config config) {
  const auto f = experiments::run_planner_check(config);
  val out = val::object();
  val model = val::object();  // gpt::config's JS binding has no MoE fields
  model.set("layers", f.model.layers);
  model.set("dModel", f.model.d_model);
  model.set("heads", f.model.heads);
  model.set("kvHeads", f.model.kv_heads);
  model.set("dFf", f.model.d_ff);
  model.set("maxSeq", f.model.max_seq);
  model.set("tied", f.model.tied);
  model.set("experts", f.model.experts);
  model.set("topK", f.model.top_k);
  out.set("model", model);
  out.set("recipe", f.recipe);
  out.set("adapted", wasm::array_of(f.adapted));
  out.set("plan", result(f.plan));
  val rows = val::array();
  for (const auto& r : f.rows) {
    val row = val::object();
    row.set("name", r.name);
    row.set("predicted", double(r.predicted));
    row.set("measured", r.was_measured ? val(double(r.measured)) : val::null());
    rows.call<void>("push", row);
  }
  out.set("rows", rows);
  out.set("allEqual", f.all_equal);
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_planner) {
  wasm::object<planner::model_shape>("PlannerModel")
      .field("name", &planner::model_shape::name)
      .field("layers", &planner::model_shape::layers)
      .field("dModel", &planner::model_shape::d_model)
      .field("heads", &planner::model_shape::heads)
      .field("kvHeads", &planner::model_shape::kv_heads)
      .field("dFf", &planner::model_shape::d_ff)
      .field("vocab", &planner::model_shape::vocab)
      .field("positions", &planner::model_shape::positions)
      .field("mlp", &planner::model_shape::mlp)
      .field("norm", &planner::model_shape::norm)
      .field("tied", &planner::model_shape::tied)
      .field("biases", &planner::model_shape::biases)
      .field("experts", &planner::model_shape::experts)
      .field("topK", &planner::model_shape::top_k)
      .field("capacityFactor", &planner::model_shape::capacity_factor);
  wasm::object<planner::recipe>("PlannerRecipe")
      .field("weights", &planner::recipe::weights)
      .field("embeddings", &planner::recipe::embeddings)
      .field("kv", &planner::recipe::kv)
      .field("paged", &planner::recipe::paged)
      .field("block", &planner::recipe::block)
      .field("seq", &planner::recipe::seq)
      .field("context", &planner::recipe::context)
      .field("batch", &planner::recipe::batch)
      .field("train", &planner::recipe::train)
      .field("checkpoint", &planner::recipe::checkpoint)
      .field("attention", &planner::recipe::attention)
      .field("rank", &planner::recipe::rank)
      .field("activationBytes", &planner::recipe::activation_bytes);
  wasm::object<experiments::planner_check_config>("PlannerCheckConfig")
      .field("like", &experiments::planner_check_config::like)
      .field("recipe", &experiments::planner_check_config::recipe)
      .field("seed", &experiments::planner_check_config::seed);
  wasm::def<&plan>("plan", "model", "recipe");
  wasm::def<&planner_presets>("plannerPresets");
  wasm::def<&planner_preset>("plannerPreset", "preset");
  wasm::def<&planner_devices>("plannerDevices");
  wasm::def<&run_planner_check>("runPlannerCheck", "config");
}
