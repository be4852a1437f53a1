// The training experiments (train/experiment.hpp): what the CLI and the page
// report is what the technique's own functions give on the documented seeds.
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "base/error.hpp"
#include "base/random.hpp"
#include "train/checkpoint.hpp"
#include "train/experiment.hpp"

using namespace memlab;

TEST_CASE("the checkpoint experiment: peaks by the hand formula, the seeded stack's loss") {
  experiments::checkpoint_config c;
  c.layers = 16, c.batch = 4, c.width = 8, c.hidden = 24, c.repeats = 1;
  const std::size_t a = 4 * 4 * 8, h = 4 * 4 * 24;  // one activation, one hidden, in bytes

  // The documented seeds: weights 1, inputs 2; the loss is a plain forward pass's.
  const checkpoint::mlp_stack stack(16, 8, 24, 1);
  rng gen(2);
  const auto x = random_normal<2>({4, 8}, gen);
  const auto target = random_normal<2>({4, 8}, gen);
  const double loss = checkpoint::loss(stack, x, target);

  c.policy = "none";
  const auto none = experiments::run_checkpoint(c);
  CHECK(none.policy == "none");
  CHECK(none.checkpoints == std::vector<int>{0});
  CHECK(none.peak_bytes == 17 * (a + h));  // (n + 1)(a + h)
  CHECK(none.formula_bytes == none.peak_bytes);
  CHECK(none.recomputed_blocks == 0);
  CHECK(none.loss == doctest::Approx(loss).epsilon(1e-6));  // summed in another order
  CHECK(none.step.ran);
  CHECK(none.timeline.empty());

  c.policy = "sqrt";
  c.timeline = true;
  const auto sqrt = experiments::run_checkpoint(c);
  CHECK(sqrt.checkpoints == std::vector<int>{0, 4, 8, 12});
  CHECK(sqrt.peak_bytes == 8 * a + 5 * h);  // the header's figure for n = 16
  CHECK(sqrt.formula_bytes == sqrt.peak_bytes);
  CHECK(sqrt.recomputed_blocks == 12);  // n − the last segment's 4
  CHECK(sqrt.loss == none.loss);        // bitwise: the same arithmetic
  REQUIRE(!sqrt.timeline.empty());
  std::size_t top = 0;
  for (const auto& e : sqrt.timeline) top = std::max(top, e.live_bytes);
  CHECK(top == sqrt.peak_bytes);
  CHECK(sqrt.backward_start_ms > 0);

  c.policy = "every:4";
  CHECK(experiments::run_checkpoint(c).peak_bytes == sqrt.peak_bytes);
}

TEST_CASE("the checkpoint experiment names a bad parameter") {
  experiments::checkpoint_config c;
  c.repeats = 1;
  c.policy = "every:0";
  CHECK_THROWS_WITH_AS(experiments::run_checkpoint(c),
                       "k = 0: expected a positive number of blocks per segment", invalid_argument);
  c.policy = "half";
  CHECK_THROWS_WITH_AS(experiments::run_checkpoint(c),
                       "policy = half: expected none, sqrt, every:K or set:I,J,...",
                       invalid_argument);
  c.policy = "sqrt";
  c.batch = -2;
  CHECK_THROWS_WITH_AS(experiments::run_checkpoint(c), "batch = -2: expected a positive integer",
                       invalid_argument);
}

namespace {

const std::string text =
    "the cat sat on the mat. the dog sat on the log. the cat and the dog sat. ";

experiments::training_config small_training() {
  experiments::training_config c;
  c.model = {4, 16, 4, 2, 24, 16, true};
  c.steps = 5, c.batch = 2, c.seq = 8, c.lr = 1e-2f;
  c.text = text + text;
  c.prompt = "the ";
  c.sample_tokens = 100;  // more than the 12 positions left: 12
  return c;
}

}  // namespace

TEST_CASE("the training experiment: train::run's model and losses, a sample, layer checkpointing") {
  const auto c = small_training();
  int calls = 0;
  const auto f = experiments::run_training(c, [&](int step, double) { calls = step; });
  CHECK(calls == 5);
  CHECK(f.config.text.empty());

  // The same run through train::run directly: bitwise the same losses.
  train::options o;
  o.model = c.model;
  o.steps = 5, o.batch = 2, o.seq = 8;
  o.adam.lr = 1e-2f;
  const auto r = train::run(c.text, o);
  CHECK(f.trained.losses == r.losses);
  CHECK(f.trained.final_eval_loss == r.final_eval_loss);
  CHECK(f.parameters == r.model.parameter_count());

  // The prompt, then greedy bytes up to max_seq: what generate() gives.
  const auto prompt = gpt::encode("the ");
  REQUIRE(f.sample.size() == 16);
  CHECK(std::equal(prompt.begin(), prompt.end(), f.sample.begin()));
  const auto greedy = generate(r.model, prompt, 12, false);
  CHECK(std::equal(greedy.tokens.begin(), greedy.tokens.end(), f.sample.begin() + 4));

  // One window of seq + 1 bytes, 4 layers: √n = 2 segments of 2, the first recomputed.
  // Then naive attention, which keeps every layer's probabilities for the backward.
  REQUIRE(f.checkpointing.size() == 3);
  CHECK(f.checkpointing[0].attention == "flash");
  CHECK(f.checkpointing[0].policy == "none");
  CHECK(f.checkpointing[0].recomputed_layers == 0);
  CHECK(f.checkpointing[1].policy == "sqrt");
  CHECK(f.checkpointing[1].recomputed_layers == 2);
  CHECK(f.checkpointing[1].peak_bytes < f.checkpointing[0].peak_bytes);
  CHECK(f.checkpointing[2].attention == "naive");
  CHECK(f.checkpointing[2].policy == "none");
  CHECK(f.checkpointing[2].peak_bytes > f.checkpointing[0].peak_bytes);
}

TEST_CASE("the training experiment names a bad prompt and a bad text") {
  auto c = small_training();
  c.prompt = std::string(16, 'x');
  CHECK_THROWS_WITH_AS(experiments::run_training(c),
                       "prompt = xxxxxxxxxxxxxxxx: expected shorter than max_seq",
                       invalid_argument);
  c = small_training();
  c.text = "short";
  CHECK_THROWS_WITH_AS(experiments::run_training(c),
                       "text = 5: expected more than seq + 1 = 9 bytes", invalid_argument);
}

TEST_CASE("the LoRA experiment: memory counted by hand, adapter training lowers the loss") {
  experiments::lora_config c;
  c.model = {2, 16, 4, 2, 32, 24, true};
  c.rank = 4, c.alpha = 8;
  const auto rows = experiments::run_lora(c);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0].method == "LoRA");
  CHECK(rows[1].method == "QLoRA");
  const gpt::model base(c.model, 1);
  const std::size_t params = base.parameter_count();
  // Adapters per layer: wq, wo [16,16] -> 4·(16+16) each; wk, wv [16,8] -> 4·(16+8).
  const std::size_t adapters = 2 * (2 * 4 * 32 + 2 * 4 * 24);
  for (const auto& r : rows) {
    CHECK(r.rank == 4);
    CHECK(r.memory.parameters == params);
    CHECK(r.memory.adapter_parameters == adapters);
    CHECK(r.memory.full_finetune_bytes == 16 * params);
    CHECK(r.memory.trainable_state_bytes == 16 * adapters);
    CHECK(r.saving_vs_full ==
          doctest::Approx(1.0 - double(r.memory.total_bytes()) / double(16 * params)));
    CHECK(r.losses.empty());
  }
  CHECK(rows[0].memory.base_bytes == 4 * params);
  CHECK(rows[1].memory.base_bytes < rows[0].memory.base_bytes);
  CHECK(rows[1].memory.base_bytes == lora::model(base, 4, 8, true, 2).memory().base_bytes);

  c.steps = 12, c.batch = 2, c.seq = 8;
  c.text = text + text + text;
  const auto trained = experiments::run_lora(c);
  for (const auto& r : trained) {
    CAPTURE(r.method);
    REQUIRE(r.losses.size() == 12);
    CHECK(r.losses.back() < r.losses.front());
  }
}

TEST_CASE("the LoRA experiment names a bad rank and a short text") {
  experiments::lora_config c;
  c.rank = 0;
  CHECK_THROWS_WITH_AS(experiments::run_lora(c),
                       "rank = 0: expected in [1, 128] (the smallest dimension of wq wk wv wo)",
                       invalid_argument);
  c.rank = 8;
  c.steps = 1;
  c.text = "short";
  CHECK_THROWS_WITH_AS(experiments::run_lora(c), "text = 5: expected longer than seq + 1",
                       invalid_argument);
}
