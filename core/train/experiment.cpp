#include "train/experiment.hpp"

#include <algorithm>

#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"
#include "train/checkpoint.hpp"

namespace memlab::experiments {

checkpoint_figures run_checkpoint(const checkpoint_config& config) {
  const checkpoint::mlp_stack stack(config.layers, config.width, config.hidden, 1);
  const auto batch = require_positive(config.batch, "batch");
  const auto policy = checkpoint::policy::parse(config.policy);
  checkpoint::checkpoints(policy, config.layers);  // a bad policy fails before any run
  require_repeats(config.repeats);
  // A warm-up, the repeats and the timeline's step.
  require_work((config.repeats + 2.0) *
                   checkpoint::step_flops(config.layers, batch, stack.width(), stack.hidden()),
               {{"repeats", config.repeats},
                {"layers", config.layers},
                {"batch", config.batch},
                {"width", config.width},
                {"hidden", config.hidden}},
               "the timed training steps");
  rng gen(2);
  const auto x = random_normal<2>({batch, stack.width()}, gen);
  const auto target = random_normal<2>({batch, stack.width()}, gen);

  checkpoint::gradients g(stack);
  checkpoint::step_result r;
  checkpoint_figures f;
  f.config = config;
  f.step = measure(config.repeats, [&] {
    g.zero();
    r = checkpoint::train_step(stack, x, target, policy, g);
  });
  f.policy = policy.name();
  f.checkpoints = r.checkpoints;
  f.peak_bytes = r.peak_bytes;
  f.formula_bytes = checkpoint::peak_activation_bytes(r.checkpoints, config.layers, batch,
                                                      stack.width(), stack.hidden());
  f.recomputed_blocks = r.recomputed_blocks;
  f.loss = r.loss;
  if (config.timeline) {
    g.zero();
    auto t = checkpoint::train_step(stack, x, target, policy, g, true);
    f.timeline = std::move(t.timeline);
    f.backward_start_ms = t.backward_start_ms;
  }
  return f;
}

training_figures run_training(const training_config& config,
                              const std::function<void(int step, double loss)>& on_step) {
  const auto prompt = gpt::encode(config.prompt);
  require(!prompt.empty(), "prompt", "empty", "at least 1 token");
  const int room = config.model.max_seq - int(prompt.size());
  require(room > 0, "prompt", config.prompt, "shorter than max_seq");
  require(config.sample_tokens >= 0, "sample_tokens", config.sample_tokens, "0 or more");
  check(config.sampler);

  train::options o;
  o.model = config.model;
  o.steps = config.steps, o.batch = config.batch, o.seq = config.seq;
  o.adam.lr = config.lr;
  o.seed = config.seed;
  training_figures f{config, train::run(config.text, o, on_step), 0, {}, {}};
  f.config.text.clear();
  const gpt::model& m = f.trained.model;
  f.parameters = m.parameter_count();

  const auto sample =
      generate(m, prompt, std::min(config.sample_tokens, room), true, config.sampler);
  f.sample = prompt;
  f.sample.insert(f.sample.end(), sample.tokens.begin(), sample.tokens.end());

  // One sequence's forward + backward with and without checkpointing the layers,
  // and with naive attention (its probabilities kept) instead of flash.
  const auto window = gpt::encode(config.text.substr(0, std::size_t(config.seq) + 1));
  using kernel = train::attention_kernel;
  const std::pair<kernel, checkpoint::policy> runs[] = {
      {kernel::flash, checkpoint::policy::none()},
      {kernel::flash, checkpoint::policy::sqrt_n()},
      {kernel::naive, checkpoint::policy::none()}};
  for (const auto& [attention, p] : runs) {
    auto g = train::zeros_like(m.params());
    train::checkpoint_figures c;
    train::loss_and_gradient(m.cfg(), m.params(), window, g, 1.0f, p, &c, attention);
    f.checkpointing.push_back({attention == kernel::flash ? "flash" : "naive", p.name(),
                               c.peak_bytes, c.recomputed_layers});
  }
  return f;
}

std::vector<lora_figures> run_lora(const lora_config& config) {
  require(config.steps >= 0, "steps", config.steps, "0 (memory only) or more");
  if (config.steps > 0) {
    require_positive(config.batch, "batch");
    const auto seq = require_positive(config.seq, "seq");
    // LoRA and QLoRA: each step a batch of sequences forward and backward (3
    // forward passes) on the effective weights, rebuilt (and for QLoRA
    // dequantized, ~20 flops a weight) every step.
    const double step =
        config.batch * 3.0 * gpt::forward_flops(config.model, double(seq), 0, double(seq)) +
        20.0 * gpt::parameters(config.model).as_double();
    require_work(2.0 * config.steps * step,
                 {{"steps", config.steps},
                  {"batch", config.batch},
                  {"seq", config.seq},
                  {"layers", config.model.layers},
                  {"d_model", config.model.d_model}},
                 "the LoRA and QLoRA training steps");
  }
  const gpt::model base(config.model, 1);
  lora::model(base, config.rank, config.alpha, false, 2);  // a bad rank fails before any run
  std::vector<int> text;
  if (config.steps > 0) {
    text = gpt::encode(config.text);
    require(text.size() > std::size_t(config.seq) + 1, "text", text.size(), "longer than seq + 1");
  }
  std::vector<lora_figures> rows;
  for (bool quantized : {false, true}) {
    lora::model l(base, config.rank, config.alpha, quantized, 2);
    lora_figures f;
    f.method = quantized ? "QLoRA" : "LoRA";
    f.rank = config.rank;
    f.memory = l.memory();
    f.saving_vs_full = 1.0 - double(f.memory.total_bytes()) / double(f.memory.full_finetune_bytes);
    if (config.steps > 0) {
      const std::size_t seq = std::size_t(config.seq);
      rng gen(3);
      for (int s = 0; s < config.steps; ++s) {
        std::vector<std::vector<int>> batch;
        for (int b = 0; b < config.batch; ++b) {
          const std::size_t at = std::size_t(gen.next_u64() % (text.size() - seq - 1));
          batch.emplace_back(text.begin() + long(at), text.begin() + long(at + seq + 1));
        }
        f.losses.push_back(l.train_step(batch));
      }
    }
    rows.push_back(std::move(f));
  }
  return rows;
}

}  // namespace memlab::experiments
