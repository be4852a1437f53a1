#include "planner/planner.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "base/error.hpp"
#include "base/random.hpp"
#include "model/generate.hpp"
#include "paged_kv_cache/paged_kv_cache.hpp"
#include "planner/experiment.hpp"
#include "quant/matrix.hpp"
#include "train/lora.hpp"
#include "train/train.hpp"

using namespace memlab;

namespace {

// Configurations every format can store: inputs of 128 and 256 divide the int8/int4
// groups (128), the ggml blocks (32) and NF4's (64).
gpt::config tiny(int experts, bool tied = true, float capacity_factor = 0) {
  gpt::config c;
  c.layers = 3, c.d_model = 128, c.heads = 4, c.kv_heads = 2, c.d_ff = 256, c.max_seq = 64;
  c.tied = tied;
  c.experts = experts, c.top_k = experts ? 2 : 1, c.capacity_factor = capacity_factor;
  return c;
}

planner::recipe inference(const std::string& weights, int seq) {
  planner::recipe r;
  r.weights = weights;
  r.embeddings = "fp32";  // memlab's quantized() keeps embeddings and norms fp32
  r.seq = seq;
  return r;
}

std::size_t live_since(const memory::peak_scope& scope) {
  return memory::tracker().live_bytes() - scope.start_live_bytes();
}

double within(double value, double published) { return std::fabs(value / published - 1); }

}  // namespace

TEST_CASE("planner: presets count the published parameters (within 1%)") {
  auto params = [](const char* name) { return planner::plan(planner::preset(name), {}); };
  // GPT-2 small, counted with its biases and LayerNorms: exactly 124,439,808
  CHECK(params("gpt2").params_total == 124439808);
  CHECK(within(double(params("gpt3-175b").params_total), 175e9) < 0.01);
  CHECK(within(double(params("llama-2-7b").params_total), 6.74e9) < 0.01);
  CHECK(params("llama-2-7b").params_total == 6738415616);  // the released checkpoint's count
  CHECK(within(double(params("llama-2-13b").params_total), 13.0e9) < 0.01);
  CHECK(within(double(params("llama-2-70b").params_total), 69.0e9) < 0.01);
  const auto mixtral = params("mixtral-8x7b");
  CHECK(within(double(mixtral.params_total), 46.7e9) < 0.01);
  CHECK(within(double(mixtral.params_active), 12.9e9) < 0.01);
  CHECK(params("llama-2-70b").params_active == params("llama-2-70b").params_total);
  CHECK_THROWS_WITH_AS(
      planner::preset("llama-3"),
      "preset = llama-3: expected one of gpt2, gpt3-175b, llama-2-7b, llama-2-13b, "
      "llama-2-70b, mixtral-8x7b",
      invalid_argument);
}

TEST_CASE("planner: the seeds' figures, checked") {
  planner::recipe r;
  r.kv = "fp32", r.seq = 1024;
  // GPT-2's KV cache at 1024 tokens: 12 layers · 12 heads · 1024 · 64 · 2 (K, V) · 4 B
  const auto gpt2 = planner::plan(planner::preset("gpt2"), r);
  CHECK(gpt2.bytes.kv_cache == 12ull * 12 * 1024 * 64 * 2 * 4);  // 75.5 MB
  CHECK(gpt2.bytes.kv_cache == 75497472);
  r.kv = "fp16";  // the seed's "~37 MB" is this: fp16
  CHECK(planner::plan(planner::preset("gpt2"), r).bytes.kv_cache == 37748736);
  // GPT-3 175B at 2048 tokens: 19.3 GB in fp32; the seed's 4.7 "GB" is ~the element count
  r.kv = "fp32", r.seq = 2048;
  const auto gpt3 = planner::plan(planner::preset("gpt3-175b"), r);
  CHECK(gpt3.bytes.kv_cache == 96ull * 2048 * 12288 * 2 * 4);
  CHECK(gpt3.bytes.kv_cache / 4 == 4831838208);  // elements: 4.8e9
  CHECK(std::round(double(gpt3.bytes.kv_cache) / 1e8) == 193);
  // Llama-2-7B weights: 27 GB in fp32 (6.74 B · 4), 3.8 GB in q4_0 (4.5 bits, norms fp32)
  const auto llama = planner::preset("llama-2-7b");
  CHECK(planner::plan(llama, inference("fp32", 1)).bytes.weights == 6738415616ull * 4);
  planner::recipe q4;
  q4.weights = "q4_0";  // embeddings and head in q4_0 too, as llama.cpp's q4_0 file
  const auto q = planner::plan(llama, q4);
  const std::uint64_t norms = 2 * 32 * 4096 + 4096;
  CHECK(q.bytes.weights == (6738415616ull - norms) / 32 * 18 + 4 * norms);
  CHECK(std::round(double(q.bytes.weights) / 1e8) == 38);
  CHECK(q.bytes.weight_scales == (6738415616ull - norms) / 32 * 2);
}

TEST_CASE("planner: matrix bytes per format equal the quantized matrix's tracked bytes") {
  rng gen(1);
  const auto w = random_normal<2>({96, 256}, gen, 0.02f);
  for (const std::string& name : quant::format_names()) {
    CAPTURE(name);
    memory::peak_scope scope;
    const auto m = quant::quantized_matrix::quantize(w, quant::parse_format(name));
    CHECK(planner::bytes_of(name, 96, 256).total == live_since(scope));
    CHECK(planner::bytes_of(name, 96, 256).total == m.bytes());
  }
  CHECK(planner::bytes_of("bf16", 96, 256).total == 2 * 96 * 256);
  CHECK_THROWS_WITH_AS(planner::bytes_of("q4_0", 4, 48),
                       "cols = 48: expected a multiple of 32 (the q4_0 block)", invalid_argument);
}

TEST_CASE("planner: the tiny GPT's weights in every format, exactly (dense and MoE)") {
  for (int experts : {0, 4}) {
    for (bool tied : {true, false}) {
      const gpt::config c = tiny(experts, tied);
      INFO("experts ", experts, ", tied ", tied);
      memory::peak_scope scope;
      const gpt::model m(c, 1);
      const auto shape = planner::shape_of(c);
      CHECK(planner::plan(shape, inference("fp32", 1)).bytes.weights == live_since(scope));
      CHECK(planner::plan(shape, inference("fp32", 1)).params_total == m.parameter_count());
      CHECK(planner::plan(shape, inference("fp32", 1)).params_active == m.active_parameter_count());
      for (const std::string& name : quant::format_names()) {
        CAPTURE(name);
        memory::peak_scope inner;
        const gpt::model q = m.quantized(quant::parse_format(name));
        CHECK(planner::plan(shape, inference(name, 1)).bytes.weights == live_since(inner));
        CHECK(planner::plan(shape, inference(name, 1)).bytes.weights == q.weight_bytes());
      }
    }
  }
}

TEST_CASE("planner: contiguous and paged KV caches after n tokens, exactly") {
  for (int experts : {0, 4}) {
    const gpt::config c = tiny(experts);
    const gpt::model m(c, 2);
    const auto shape = planner::shape_of(c);
    for (int n : {1, 16, 17, 40}) {
      INFO("experts ", experts, ", n ", n);
      // generation stores the prompt and every new token but the last: n in all
      const std::vector<int> prompt = gpt::encode(n == 1 ? "K" : "KV");
      const int new_tokens = int(n) - int(prompt.size()) + 1;
      auto r = inference("fp32", n);
      {  // contiguous: reserves n tokens up front
        memory::peak_scope scope;
        contiguous_kv_cache cache(3, 2, std::size_t(n), 32);
        CHECK(planner::plan(shape, r).bytes.kv_cache == live_since(scope));
        generate(m, prompt, new_tokens, cache);
        CHECK(cache.length() == std::size_t(n));
      }
      // paged: the planner's blocks hold n tokens, one block fewer does not
      r.paged = true, r.block = 16;
      const auto p = planner::plan(shape, r);
      const std::size_t blocks = std::size_t((n + 15) / 16);
      CHECK(p.kv_tokens == blocks * 16);
      {
        memory::peak_scope scope;
        block_pool pool(3, 2, 32, 16, blocks);
        CHECK(p.bytes.kv_cache == live_since(scope));
        paged_kv_cache cache(pool);
        generate(m, prompt, new_tokens, cache);
        CHECK(cache.length() == std::size_t(n));
        CHECK(pool.used_blocks() * pool.bytes_per_block() == p.bytes.kv_cache);
      }
      if (blocks > 1) {
        block_pool fewer(3, 2, 32, 16, blocks - 1);
        paged_kv_cache cache(fewer);
        CHECK_THROWS_AS(generate(m, prompt, new_tokens, cache), out_of_blocks);
      }
    }
  }
  planner::recipe r = inference("fp32", 40);  // batch: a cache per sequence
  r.batch = 3, r.paged = true;
  CHECK(planner::plan(planner::shape_of(tiny(0)), r).kv_tokens == 3 * 48);
}

// The replay (planner.cpp, training_step_values) against the tracker: every
// checkpoint policy, both attention kernels, dense and MoE (capacity or not), a
// tied and an untied head; T = 63 spans one flash tile, 70 two (a partial one).
TEST_CASE("planner: one training step's peak under each checkpoint policy and kernel, exactly") {
  struct setting {
    int experts;
    bool tied;
    float cf;
  };
  const std::string text =
      "The planner predicts every byte of the trainer's step, exactly, for flash and naive.";
  for (const std::size_t length : {64u, 71u}) {
    const auto tokens = gpt::encode(text.substr(0, length));
    for (const setting s : {setting{0, true, 0}, setting{0, false, 0}, setting{4, true, 0},
                            setting{4, false, 1.25f}}) {
      gpt::config c = tiny(s.experts, s.tied, s.cf);
      c.layers = 5, c.max_seq = 80;
      const gpt::weights w = gpt::model(c, 3).params();
      const auto shape = planner::shape_of(c);
      for (const auto kernel : {train::attention_kernel::flash, train::attention_kernel::naive}) {
        const char* kernel_name = kernel == train::attention_kernel::flash ? "flash" : "naive";
        for (const char* policy : {"none", "sqrt", "every:2", "set:0,3"}) {
          INFO("T ", tokens.size() - 1, ", experts ", s.experts, ", tied ", s.tied,
               ", capacity factor ", s.cf, ", ", std::string(kernel_name), ", ",
               std::string(policy));
          planner::recipe r;
          r.train = "full", r.checkpoint = policy, r.attention = kernel_name;
          r.seq = int(tokens.size() - 1);
          const auto p = planner::plan(shape, r);
          gpt::weights g = train::zeros_like(w);
          train::checkpoint_figures f;
          const std::size_t start = memory::tracker().live_bytes();
          memory::tracker().record_timeline(true);
          memory::tracker().reset();
          train::loss_and_gradient(c, w, tokens, g, 1.0f, checkpoint::policy::parse(policy), &f,
                                   kernel);
          memory::tracker().record_timeline(false);
          CHECK(p.bytes.activations == f.peak_bytes);
          // every turn of the step, not only its highest: each term of the replay shows
          std::vector<std::uint64_t> live = {0};
          for (const auto& e : memory::tracker().timeline()) live.push_back(e.live_bytes - start);
          CHECK(planner::training_step_peaks(shape, r) == planner::local_peaks(live));
        }
        // the whole step: weights, gradients, AdamW's m and v, and the activations' peak
        INFO("T ", tokens.size() - 1, ", experts ", s.experts, ", ", std::string(kernel_name),
             ", whole step");
        planner::recipe r;
        r.train = "full", r.checkpoint = "sqrt", r.attention = kernel_name;
        r.seq = int(tokens.size() - 1);
        const auto p = planner::plan(shape, r);
        memory::peak_scope scope;
        gpt::weights trained = w;
        gpt::weights g = train::zeros_like(trained);
        train::adamw opt(trained, {});
        train::checkpoint_figures f;
        train::loss_and_gradient(c, trained, tokens, g, 1.0f, checkpoint::policy::sqrt_n(), &f,
                                 kernel);
        opt.step(trained, g);
        CHECK(p.bytes.total() == scope.peak_bytes());
        CHECK(p.bytes.weights + p.bytes.gradients + p.bytes.optimizer == 16 * p.params_total);
      }
    }
  }
}

TEST_CASE("planner: LoRA and QLoRA state, exactly (dense and MoE)") {
  for (int experts : {0, 4}) {
    const gpt::config c = tiny(experts);
    const gpt::model base(c, 4);
    for (bool quantized : {false, true}) {
      INFO("experts ", experts, std::string(quantized ? ", QLoRA" : ", LoRA"));
      planner::recipe r;
      r.train = quantized ? "qlora" : "lora", r.rank = 8, r.weights = "fp32", r.embeddings = "fp32";
      const auto p = planner::plan(planner::shape_of(c), r);
      memory::peak_scope scope;
      lora::model l(base, 8, 16.0f, quantized, 5);
      // what persists between steps: the frozen base, the adapters, AdamW's m and v
      CHECK(live_since(scope) == p.bytes.weights + p.bytes.adapters + p.bytes.optimizer);
      CHECK(l.memory().adapter_parameters == p.params_trainable);
      CHECK(l.memory().base_bytes == p.bytes.weights);
      // the adapters' gradients, as a step allocates them
      memory::peak_scope grads_scope;
      std::vector<lora::layer_adapters> grads = l.adapters();
      CHECK(live_since(grads_scope) == p.bytes.gradients);
    }
  }
}

TEST_CASE("planner: bad input is named") {
  planner::recipe r;
  r.weights = "q3_k";
  CHECK_THROWS_WITH_AS(planner::plan(planner::preset("gpt2"), r),
                       "weights = q3_k: expected one of fp32, fp16, bf16, int8_sym, int8_asym, "
                       "int4_sym, int4_asym, q8_0, q4_0, q4_1, nf4, nf4_dq",
                       invalid_argument);
  r = {};
  r.train = "dpo";
  CHECK_THROWS_WITH_AS(planner::plan(planner::preset("gpt2"), r),
                       "train = dpo: expected one of none, full, lora, qlora", invalid_argument);
  r = {};
  r.attention = "eager";
  CHECK_THROWS_WITH_AS(planner::plan(planner::preset("gpt2"), r),
                       "attention = eager: expected one of flash, naive", invalid_argument);
  r = {};
  r.seq = 0;
  CHECK_THROWS_WITH_AS(planner::plan(planner::preset("gpt2"), r),
                       "seq = 0: expected a positive integer", invalid_argument);
  r = {};
  r.kv = "int2";
  CHECK_THROWS_WITH_AS(planner::plan(planner::preset("gpt2"), r),
                       "kv = int2: expected one of fp32, fp16, bf16, q8_0, q4_0", invalid_argument);
  r = {};
  r.train = "full", r.checkpoint = "every:0";
  CHECK_THROWS_WITH_AS(planner::plan(planner::preset("gpt2"), r),
                       "k = 0: expected a positive number of blocks per segment", invalid_argument);
  r = {};
  r.seq = 2000000;
  CHECK_THROWS_WITH_AS(planner::plan(planner::preset("gpt2"), r),
                       "seq = 2000000: expected at most 1048576", invalid_argument);
  // sizes past 2^64 are refused, not wrapped: naive attention's 2^20 heads · (2^20
  // tokens)² per layer (flash keeps no [heads, T, T] and plans the same shape)
  planner::model_shape huge = planner::preset("llama-2-70b");
  huge.d_model = huge.heads = huge.kv_heads = 1 << 20;
  r = {};
  r.train = "full", r.seq = 1 << 20;
  CHECK(planner::plan(huge, r).bytes.activations > 0);
  r.attention = "naive";
  CHECK_THROWS_WITH_AS(planner::plan(huge, r),
                       "activations = over 2^64 values: expected a step that can be counted (a "
                       "smaller seq or model)",
                       invalid_argument);
  planner::model_shape m = planner::preset("llama-2-70b");
  m.kv_heads = 7;
  CHECK_THROWS_WITH_AS(planner::plan(m, {}), "kv_heads = 7: expected a divisor of heads = 64",
                       invalid_argument);
}

TEST_CASE("planner: the tiny-GPT check runs a preset's recipe and measures what it predicts") {
  struct setting {
    const char* preset;
    const char* train;
    const char* weights;
    const char* kv;
    bool paged;
    const char* checkpoint;
  };
  for (const setting s : {setting{"llama-2-7b", "none", "q4_0", "fp16", true, "none"},
                          setting{"llama-2-70b", "none", "fp16", "fp32", false, "none"},
                          setting{"mixtral-8x7b", "none", "q8_0", "fp32", true, "none"},
                          setting{"llama-2-7b", "full", "fp32", "fp32", false, "sqrt"},
                          setting{"mixtral-8x7b", "full", "fp32", "fp32", false, "every:2"},
                          setting{"llama-2-7b", "lora", "fp32", "fp32", false, "sqrt"},
                          setting{"gpt2", "qlora", "fp32", "fp32", false, "none"},
                          setting{"mixtral-8x7b", "qlora", "fp32", "fp32", false, "sqrt"}}) {
    INFO(std::string(s.preset), " ", std::string(s.train), " ", std::string(s.weights));
    experiments::planner_check_config config;
    const auto shape = planner::preset(s.preset);
    config.like = shape;
    config.recipe.train = s.train, config.recipe.weights = s.weights, config.recipe.kv = s.kv;
    config.recipe.paged = s.paged, config.recipe.checkpoint = s.checkpoint;
    config.recipe.seq = 4096, config.recipe.batch = 2;
    const auto f = experiments::run_planner_check(config);
    CHECK(f.all_equal);
    for (const auto& row : f.rows)
      if (row.was_measured) CHECK_MESSAGE(row.predicted == row.measured, row.name);
    CHECK(f.recipe.seq == 128);  // capped at the tiny GPT's max_seq, and said so
    CHECK(!f.adapted.empty());
    CHECK(f.model.experts == (shape.experts ? 8 : 0));
  }
  // Llama-2-70B's 8 KV heads for 64 query heads: the tiny GPT's 4 heads share 1
  CHECK(experiments::tiny_counterpart(planner::preset("llama-2-70b")).kv_heads == 1);
}
