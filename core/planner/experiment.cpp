#include "planner/experiment.hpp"

#include <algorithm>
#include <memory>
#include <optional>

#include "base/error.hpp"
#include "model/generate.hpp"
#include "paged_kv_cache/paged_kv_cache.hpp"
#include "quant/matrix.hpp"
#include "train/lora.hpp"
#include "train/train.hpp"

namespace memlab::experiments {
namespace {

std::uint64_t live_since(const memory::peak_scope& scope) {
  return memory::tracker().live_bytes() - scope.start_live_bytes();
}

train::attention_kernel kernel_of(const planner::recipe& r) {
  return r.attention == "naive" ? train::attention_kernel::naive : train::attention_kernel::flash;
}

// The recipe as memlab can run it on this model, and what had to change.
planner::recipe adapt(const gpt::config& c, planner::recipe r, std::vector<std::string>& adapted) {
  const bool training = r.train != "none";
  if (r.weights == "bf16") {
    r.weights = "fp16";
    adapted.push_back("weights bf16 -> fp16: the same 2 bytes a value; memlab stores no bf16");
  }
  const std::string embeddings = r.embeddings.empty() ? r.weights : r.embeddings;
  if (embeddings != "fp32" && r.train != "full")
    adapted.push_back("embeddings " + embeddings +
                      " -> fp32: the tiny GPT keeps embeddings and norms fp32 when quantized");
  r.embeddings = "fp32";
  if (!training && r.kv != "fp32") {
    adapted.push_back("KV cache " + r.kv + " -> fp32: memlab's caches hold fp32");
    r.kv = "fp32";
  }
  if (r.seq > c.max_seq) {
    adapted.push_back("seq " + std::to_string(r.seq) + " -> " + std::to_string(c.max_seq) +
                      ": the tiny GPT's max_seq");
    r.seq = c.max_seq;
  }
  if (r.context > c.max_seq) {
    adapted.push_back("context " + std::to_string(r.context) + " -> " + std::to_string(c.max_seq));
    r.context = c.max_seq;
  }
  if (training && r.batch != 1) {
    adapted.push_back("batch " + std::to_string(r.batch) +
                      " -> 1: memlab's trainer runs one sequence at a time");
    r.batch = 1;
  }
  if (r.activation_bytes != 4) {
    adapted.push_back("activation bytes " + std::to_string(r.activation_bytes) +
                      " -> 4: memlab's activations are fp32");
    r.activation_bytes = 4;
  }
  if (r.train == "qlora")
    require(c.d_model % 64 == 0 && c.d_ff % 64 == 0, "d_model, d_ff",
            std::to_string(c.d_model) + ", " + std::to_string(c.d_ff),
            "multiples of 64 (QLoRA's NF4 blocks of 64 along every row)");
  return r;
}

// seq tokens of text, cycling through a sentence.
std::vector<int> tokens_of(std::int64_t n) {
  const std::string text = "The planner predicts every byte. ";
  std::vector<int> out;
  for (std::int64_t i = 0; i < n; ++i)
    out.push_back(static_cast<unsigned char>(text[i % text.size()]));
  return out;
}

}  // namespace

gpt::config tiny_counterpart(const planner::model_shape& model) {
  planner::plan(model, {});  // checks the shape
  gpt::config c;
  c.layers = 4, c.d_model = 128, c.heads = 4, c.d_ff = 512, c.max_seq = 128;
  c.kv_heads = int(std::max<int>(1, 4 / (model.heads / model.kv_heads)));
  c.tied = model.tied;
  if (model.experts) {
    c.experts = int(std::min<int>(model.experts, 8));
    c.top_k = int(std::min<int>(model.top_k, c.experts));
    c.capacity_factor = float(model.capacity_factor);
  }
  return c;
}

planner_check_figures run_planner_check(const planner_check_config& config) {
  planner_check_figures f;
  f.model = tiny_counterpart(config.like);
  const gpt::config& c = f.model;
  f.recipe = adapt(c, config.recipe, f.adapted);
  const planner::recipe& r = f.recipe;
  f.plan = planner::plan(planner::shape_of(c), r);
  const planner::breakdown& p = f.plan.bytes;
  auto row = [&](const char* name, std::uint64_t predicted, std::uint64_t measured,
                 bool was_measured = true) {
    f.rows.push_back({name, predicted, measured, was_measured});
  };

  std::uint64_t base_bytes = 0;
  const gpt::model base = [&] {
    memory::peak_scope scope;
    gpt::model m(c, config.seed);
    base_bytes = live_since(scope);
    return m;
  }();
  if (r.train == "none") {
    // -- weights in the format, KV caches holding seq tokens ----
    std::uint64_t weights = base_bytes;
    std::optional<gpt::model> quantized;
    if (r.weights != "fp32") {
      memory::peak_scope scope;
      quantized.emplace(base.quantized(quant::parse_format(r.weights)));
      weights = live_since(scope);
    }
    const gpt::model& m = quantized ? *quantized : base;
    std::uint64_t kv = 0;
    const std::vector<int> prompt = tokens_of(r.seq);
    const std::size_t B = std::size_t(r.batch), L = std::size_t(c.layers),
                      KV = std::size_t(c.kv_heads), hd = std::size_t(c.head_dim());
    if (r.paged) {
      const std::size_t block = std::size_t(r.block);
      const std::size_t blocks = B * ((std::size_t(r.seq) + block - 1) / block);
      block_pool pool(L, KV, hd, block, blocks);
      std::vector<std::unique_ptr<paged_kv_cache>> caches;
      for (std::size_t s = 0; s < B; ++s) {
        caches.push_back(std::make_unique<paged_kv_cache>(pool));
        m.next_logits(prompt, caches.back().get());
      }
      kv = pool.used_blocks() * pool.bytes_per_block();
    } else {
      memory::peak_scope scope;
      std::vector<contiguous_kv_cache> caches;
      caches.reserve(B);
      const std::size_t context = std::size_t(r.context ? r.context : r.seq);
      for (std::size_t s = 0; s < B; ++s) {
        caches.emplace_back(L, KV, context, hd);
        m.next_logits(prompt, &caches.back());
      }
      kv = live_since(scope);
    }
    row("weights", p.weights, weights);
    row("kv_cache", p.kv_cache, kv);
    row("activations", p.activations, 0, false);
    row("total", p.total(), weights + kv + p.activations, false);
  } else if (r.train == "full") {
    // -- one step: weights, gradients, AdamW, the activations' peak ----
    const std::vector<int> tokens = tokens_of(r.seq + 1);
    memory::peak_scope scope;
    gpt::weights w = base.params();
    const std::uint64_t weights = live_since(scope);
    gpt::weights g = train::zeros_like(w);
    const std::uint64_t gradients = live_since(scope) - weights;
    train::adamw opt(w, {});
    const std::uint64_t optimizer = live_since(scope) - weights - gradients;
    train::checkpoint_figures figures;
    train::loss_and_gradient(c, w, tokens, g, 1.0f, checkpoint::policy::parse(r.checkpoint),
                             &figures, kernel_of(r));
    opt.step(w, g);
    row("weights", p.weights, weights);
    row("gradients", p.gradients, gradients);
    row("optimizer", p.optimizer, optimizer);
    row("activations", p.activations, figures.peak_bytes);
    row("total", p.total(), scope.peak_bytes());
  } else {
    // -- LoRA / QLoRA: the state between steps, the adapters' gradients, a step's activations
    const std::vector<int> tokens = tokens_of(r.seq + 1);
    memory::peak_scope scope;
    lora::model l(base, int(r.rank), 2.0f * float(r.rank), r.train == "qlora", config.seed + 1);
    const std::uint64_t state = live_since(scope);
    std::uint64_t gradients = 0;
    {
      memory::peak_scope grads_scope;
      const std::vector<lora::layer_adapters> grads = l.adapters();
      gradients = live_since(grads_scope);
    }
    const gpt::weights effective = l.effective_weights();
    gpt::weights g = train::zeros_like(effective);
    train::checkpoint_figures figures;
    train::loss_and_gradient(c, effective, tokens, g, 1.0f, checkpoint::policy::parse(r.checkpoint),
                             &figures, kernel_of(r));
    // memlab's lesson step forms W + BA and the full gradient G (8 bytes a
    // parameter) around the same activations, before the adapters' gradients exist
    std::uint64_t lesson = 0;
    {
      memory::peak_scope step;
      l.train_step({tokens});
      lesson = step.peak_bytes();
    }
    row("base + adapters + optimizer", p.weights + p.adapters + p.optimizer, state);
    row("gradients", p.gradients, gradients);
    row("activations", p.activations, figures.peak_bytes);
    row("total", p.total(), state + gradients + figures.peak_bytes);
    planner::recipe unchecked = r;  // the lesson step: no checkpoints, the trainer's flash
    unchecked.checkpoint = "none", unchecked.attention = "flash";
    const auto plain = planner::plan(planner::shape_of(c), unchecked);
    row("lesson step: W + BA and G formed", plain.bytes.activations + 8 * plain.params_total,
        lesson);
  }
  f.all_equal = std::all_of(f.rows.begin(), f.rows.end(), [](const planner_check_row& x) {
    return !x.was_measured || x.predicted == x.measured;
  });
  return f;
}

}  // namespace memlab::experiments
