#include "model/moe_experiment.hpp"

#include <algorithm>
#include <numeric>

#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/measure.hpp"
#include "model/generate.hpp"
#include "train/train.hpp"

namespace memlab::experiments {
namespace {

gpt::config with_experts(gpt::config c, int experts, int top_k, float capacity_factor = 0) {
  c.experts = experts, c.top_k = top_k, c.capacity_factor = capacity_factor;
  gpt::check(c);
  return c;
}

void require_experts(const std::vector<int>& experts) {
  require(!experts.empty(), "experts", "[]", "at least one number of experts");
}

// The largest entry of experts, for a message (experts is not empty).
long long most_experts(const std::vector<int>& experts) {
  return *std::max_element(experts.begin(), experts.end());
}

}  // namespace

std::vector<moe_size_row> run_moe_sizes(const moe_size_config& config) {
  require_experts(config.experts);
  // Building a model draws every weight: ~50 flops of time each (base/limits.hpp).
  double work = 0;
  for (int e : config.experts)
    work += 50 * gpt::parameters(with_experts(config.model, e, config.top_k)).as_double();
  const gpt::config& m = config.model;
  require_work(work,
               {{"experts.size()", static_cast<long long>(config.experts.size())},
                {"max(experts)", most_experts(config.experts)},
                {"layers", m.layers},
                {"d_model", m.d_model},
                {"d_ff", m.d_ff},
                {"max_seq", m.max_seq}},
               "the models' random weights");
  std::vector<moe_size_row> rows;
  for (int e : config.experts) {
    const gpt::config c = with_experts(config.model, e, config.top_k);
    memory::peak_scope scope;
    const gpt::model m(c, 1);
    moe_size_row row;
    row.experts = e;
    row.parameters = m.parameter_count();
    row.active_parameters = m.active_parameter_count();
    row.weight_bytes = memory::tracker().live_bytes() - scope.start_live_bytes();
    row.active_bytes = sizeof(float) * row.active_parameters;
    rows.push_back(row);
  }
  return rows;
}

moe_balance_figures run_moe_balance(const moe_balance_config& config,
                                    const std::function<void(int, int)>& progress) {
  require(config.experts >= 2, "experts", config.experts,
          "at least 2 (one expert has nothing to balance)");
  const gpt::config model =
      with_experts(config.model, config.experts, config.top_k, config.capacity_factor);
  const std::string& eval = config.eval_text.empty() ? config.text : config.eval_text;
  const std::size_t steps = require_positive(config.steps, "steps");
  require(eval.size() >= 2, "eval_text", eval.size(), "at least 2 bytes");
  moe_balance_figures f;
  int done = 0;
  auto train_one = [&](float coef) {
    train::options o;
    o.model = model;
    o.model.aux_loss_coef = coef;
    o.model.max_seq = std::max(o.model.max_seq, config.seq);
    o.steps = config.steps, o.batch = config.batch, o.seq = config.seq;
    o.adam.lr = config.lr;
    o.seed = config.seed;
    const train::result r = train::run(config.text, o, [&](int, double) {
      if (progress) progress(++done, int(2 * steps));
    });
    moe_balance_run run;
    run.aux_loss_coef = coef;
    run.losses = r.losses;
    run.final_loss = r.final_eval_loss;
    // Route the eval text window by window (max_seq tokens each).
    const std::vector<int> all = gpt::encode(eval);
    const std::size_t window = std::size_t(o.model.max_seq);
    for (std::size_t at = 0; at < all.size(); at += window) {
      const std::vector<int> part(all.begin() + long(at),
                                  all.begin() + long(std::min(all.size(), at + window)));
      const auto choices = r.model.expert_choices(part);
      if (run.choices.empty())
        run.choices = choices;
      else
        for (std::size_t l = 0; l < choices.size(); ++l)
          for (std::size_t e = 0; e < choices[l].size(); ++e) run.choices[l][e] += choices[l][e];
    }
    run.total.assign(std::size_t(config.experts), 0);
    for (const auto& layer : run.choices)
      for (std::size_t e = 0; e < layer.size(); ++e) run.total[e] += layer[e];
    const double mean =
        double(std::accumulate(run.total.begin(), run.total.end(), std::size_t(0))) /
        double(run.total.size());
    run.max_over_mean = double(*std::max_element(run.total.begin(), run.total.end())) / mean;
    f.eval_tokens = all.size();
    return run;
  };
  f.without = train_one(0.0f);
  f.with = train_one(config.aux_loss_coef);
  return f;
}

std::vector<moe_speed_row> run_moe_speed(const moe_speed_config& config) {
  require_experts(config.experts);
  require_positive(config.tokens, "tokens");
  require_repeats(config.repeats);
  // Per entry of experts: the MoE and the dense model, each a warm-up and the
  // repeats of a cached generation (each model's bytes are checked as it is built).
  double work = 0;
  for (int e : config.experts) {
    gpt::config dense = with_experts(config.model, e, config.top_k);
    work += generation_flops(dense, 1, config.tokens, true);
    dense.experts = 0;
    const long long dense_ff = 1LL * config.model.d_ff * e;  // (int would overflow first)
    require(dense_ff <= (1LL << 30), "d_ff · experts", dense_ff, "at most 2^30 (the dense model)");
    dense.d_ff = int(dense_ff);
    work += generation_flops(dense, 1, config.tokens, true);
  }
  require_work((config.repeats + 1.0) * work,
               {{"repeats", config.repeats},
                {"experts.size()", static_cast<long long>(config.experts.size())},
                {"max(experts)", most_experts(config.experts)},
                {"tokens", config.tokens},
                {"layers", config.model.layers},
                {"d_model", config.model.d_model},
                {"d_ff", config.model.d_ff}},
               "the timed generations");
  const std::vector<int> prompt = {'T'};
  std::vector<moe_speed_row> rows;
  for (int e : config.experts) {
    const gpt::config moe_config = with_experts(config.model, e, config.top_k);
    gpt::config dense_config = with_experts(config.model, 0, 1);
    dense_config.d_ff = config.model.d_ff * e;  // checked above
    const gpt::model moe_model(moe_config, 1), dense_model(dense_config, 1);
    moe_speed_row row;
    row.experts = e;
    row.moe_parameters = moe_model.parameter_count();
    row.dense_parameters = dense_model.parameter_count();
    auto per_token = [&](const gpt::model& m) {
      const auto f = measure(config.repeats, [&] { generate(m, prompt, config.tokens, true); });
      return f.median_ms / config.tokens;
    };
    row.moe_ms_per_token = per_token(moe_model);
    row.dense_ms_per_token = per_token(dense_model);
    rows.push_back(row);
  }
  return rows;
}

}  // namespace memlab::experiments
