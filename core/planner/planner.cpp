#include "planner/planner.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attention/flash_backward.hpp"
#include "base/error.hpp"
#include "base/kernels.hpp"
#include "quant/matrix.hpp"
#include "train/checkpoint.hpp"
#include "train/train.hpp"

namespace memlab::planner {
namespace {

using u64 = std::uint64_t;

u64 u(long long x) { return static_cast<u64>(x); }
u64 ceil_div(u64 a, u64 b) { return (a + b - 1) / b; }

// a · b, or an error naming what overflowed (a shape in the billions could).
u64 times(u64 a, u64 b, const char* what) {
  require(b == 0 || a <= std::numeric_limits<u64>::max() / b, what,
          std::to_string(a) + " · " + std::to_string(b), "a product below 2^64");
  return a * b;
}

const std::vector<std::string>& weight_formats() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n = quant::format_names();
    n.insert(n.begin() + 2, "bf16");
    return n;
  }();
  return names;
}

std::string joined(const std::vector<std::string>& names) {
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  return all;
}

void require_one_of(const std::string& value, const std::vector<std::string>& names,
                    const char* what) {
  require(std::find(names.begin(), names.end(), value) != names.end(), what, value,
          [&] { return "one of " + joined(names); });
}

// A positive integer no larger than `most` (bounds that keep every product of
// shapes below 2^64; the largest real models sit far below them).
void require_size(long long value, const char* name, long long most) {
  require_positive(value, name);
  require(value <= most, name, value, [&] { return "at most " + std::to_string(most); });
}

void check(const model_shape& m) {
  require_size(m.layers, "layers", 1 << 14);
  require_size(m.d_model, "d_model", 1 << 20);
  require_size(m.heads, "heads", 1 << 20);
  require_size(m.kv_heads, "kv_heads", 1 << 20);
  require_size(m.d_ff, "d_ff", 1 << 22);
  require_size(m.vocab, "vocab", 1 << 22);
  require(m.positions >= 0 && m.positions <= 1 << 22, "positions", m.positions,
          "0 (rotary) or a number of positions up to 2^22");
  require(m.d_model % m.heads == 0, "d_model", m.d_model,
          [&] { return "a multiple of " + named("heads", m.heads); });
  require(m.heads % m.kv_heads == 0, "kv_heads", m.kv_heads,
          [&] { return "a divisor of " + named("heads", m.heads); });
  require_one_of(m.mlp, {"gelu", "swiglu"}, "mlp");
  require_one_of(m.norm, {"rms", "layer"}, "norm");
  require(m.experts >= 0 && m.experts <= 1 << 12, "experts", m.experts,
          "0 (dense) or a number of experts up to 4096");
  if (m.experts)
    require(m.top_k >= 1 && m.top_k <= m.experts, "top_k", m.top_k,
            [&] { return "in [1, " + named("experts", m.experts) + "]"; });
  require(std::isfinite(m.capacity_factor) && m.capacity_factor >= 0 && m.capacity_factor <= 64,
          "capacity_factor", m.capacity_factor, "0 (no capacity) or a positive number up to 64");
}

// Every parameter tensor of a model, as matrices [rows = out, cols = in] in a
// storage class: linear (recipe.weights), embedding (recipe.embeddings) or
// vector (fp32: norms, biases, routers).
enum class storage { linear, embedding, vector };
struct tensor_shape {
  storage kind;
  u64 rows, cols;
  u64 count;            // how many such tensors in the model
  bool expert = false;  // belongs to one expert (counted k of E as active)
};

std::vector<tensor_shape> tensors(const model_shape& m) {
  const u64 L = u(m.layers), d = u(m.d_model), hd = u(m.head_dim()), q = u(m.heads) * hd,
            kv = u(m.kv_heads) * hd, ff = u(m.d_ff), V = u(m.vocab);
  const u64 norm = m.norm == "layer" ? 2 * d : d;
  const u64 E = m.experts ? u(m.experts) : 1;
  std::vector<tensor_shape> t;
  t.push_back({storage::embedding, V, d, 1});
  if (m.positions) t.push_back({storage::embedding, u(m.positions), d, 1});
  t.push_back({storage::vector, 1, 2 * norm, L});  // both norms of every layer
  t.push_back({storage::linear, q, d, L});         // wq
  t.push_back({storage::linear, kv, d, 2 * L});    // wk, wv
  t.push_back({storage::linear, d, q, L});         // wo
  if (m.biases) t.push_back({storage::vector, 1, q + 2 * kv + d, L});
  if (m.mlp == "gelu") {
    t.push_back({storage::linear, ff, d, L * E, true});  // w1
    t.push_back({storage::linear, d, ff, L * E, true});  // w2
  } else {
    t.push_back({storage::linear, ff, d, 2 * L * E, true});  // gate, up
    t.push_back({storage::linear, d, ff, L * E, true});      // down
  }
  if (m.biases) t.push_back({storage::vector, 1, ff + d, L * E, true});
  if (m.experts) t.push_back({storage::vector, E, d, L});   // router [d, E] in fp32
  t.push_back({storage::vector, 1, norm, 1});               // final norm
  if (!m.tied) t.push_back({storage::embedding, V, d, 1});  // output head
  return t;
}

// Parameters of one expert's MLP in one layer.
u64 expert_parameters(const model_shape& m) {
  const u64 d = u(m.d_model), ff = u(m.d_ff);
  return (m.mlp == "gelu" ? 2 : 3) * d * ff + (m.biases ? ff + d : 0);
}

u64 kv_element_bytes_times_32(const std::string& format) {
  if (format == "fp32") return 128;
  if (format == "fp16" || format == "bf16") return 64;
  if (format == "q8_0") return 34;
  if (format == "q4_0") return 18;
  require(false, "kv", format, "one of fp32, fp16, bf16, q8_0, q4_0");
  return 0;
}

// ---- activations ----------------------------------------------------------
//
// A replay of the allocations of one training step of memlab's trainer
// (train/train.cpp with model/moe.cpp), in values (4 bytes each in memlab):
// what each statement allocates and frees, in order, so that the peak is the
// tracker's exactly. xtensor's `x += y` evaluates into a temporary of x's size
// and then frees the old x, which is why it shows as "+ tmp − x".

class replay {
 public:
  // series: if given, gets the live values after every allocation and free
  explicit replay(std::vector<u64>* series = nullptr) : series_(series) {
    if (series_) series_->assign(1, 0);
  }
  void alloc(u64 n) {
    require(live_ <= std::numeric_limits<u64>::max() - n, "activations", "over 2^64 values",
            "a step that can be counted (a smaller seq or model)");
    live_ += n, peak_ = std::max(peak_, live_);
    if (series_) series_->push_back(live_);
  }
  void free(u64 n) {
    live_ -= n;
    if (series_) series_->push_back(live_);
  }
  u64 live() const { return live_; }
  u64 peak() const { return peak_; }

 private:
  u64 live_ = 0, peak_ = 0;
  std::vector<u64>* series_;
};

struct step_shape {
  u64 T, d, q, kv, heads, hd, ff, V;
  bool moe, swiglu;
  bool flash;   // attention: flash (keeps O and the logsumexp) or naive (keeps P)
  u64 E, k, R;  // MoE: experts, top_k, dispatch rows
  // routing: probs [T, E] + choice, gate, row [T, k] + first [E + 1] + load [E]
  u64 routing() const { return T * E + 3 * T * k + 2 * E + 1; }
  // the MLP's kept pre-activations: GELU one [T, d_ff]; SwiGLU gate and up
  u64 pre() const { return (swiglu ? 2 : 1) * T * ff; }
  // flash tiles (train::attention_tile, at most T): query rows, keys
  u64 br() const { return std::min<u64>(train::attention_tile, T); }
  u64 bc() const { return br(); }
};

// x += product: the product, the temporary of +=, the old x and the product freed.
void add_into_x(replay& m, u64 product) {
  m.alloc(product), m.alloc(product), m.free(product), m.free(product);
}

// A projection into heads: the matmul's [T, n] and its split copy [heads, T, hd],
// the first freed. Keeps n · T values.
void project(replay& m, u64 Tn) { m.alloc(Tn), m.alloc(Tn), m.free(Tn); }

// Scratch while a function runs: allocated, then freed on return.
void scratch(replay& m, u64 n) { m.alloc(n), m.free(n); }

// layer_forward(): allocates what the layer keeps and returns it; input_kept: the
// layer's input copy exists already (a checkpoint recomputed).
u64 layer_forward(replay& m, const step_shape& z, bool input_kept) {
  const u64 T = z.T, Td = T * z.d, Tq = T * z.q;
  u64 kept = 0;
  auto keep = [&](u64 n) { m.alloc(n), kept += n; };
  if (input_kept)
    kept += Td;
  else
    keep(Td);                              // a.x
  keep(T), keep(Td);                       // inv1, h1
  project(m, Tq), kept += Tq;              // q
  project(m, T * z.kv), kept += T * z.kv;  // k
  project(m, T * z.kv), kept += T * z.kv;  // v
  if (z.flash) {
    keep(Tq), keep(z.heads * T);  // out, the logsumexp [heads, T]
    // one worker's scratch: a tile of scores, m and l of its rows, the Q tile
    // transposed (if it has rows enough for the blocked kernel: attention.cpp)
    const u64 br = z.br(), bc = z.bc();
    scratch(m, br * bc + 2 * br + (br >= kernels::block_rows ? z.hd * bc : 0));
  } else {
    m.alloc(z.heads * T * T);         // scores
    keep(z.heads * T * T), keep(Tq);  // p [heads, T, T], out
    m.free(z.heads * T * T);
  }
  m.alloc(Tq), add_into_x(m, Td), m.free(Tq);  // x += merge_heads(out) · wo
  keep(Td);                                    // x_mid
  keep(T), keep(Td);                           // inv2, h2
  if (!z.moe) {
    keep(z.pre());      // pre = h2 · w1
    m.alloc(T * z.ff);  // gl = gelu(pre)
    add_into_x(m, Td);  // x += gl · w2
    m.free(T * z.ff);
    return kept;
  }
  const u64 Rd = z.R * z.d, Rff = z.R * z.ff;
  keep(z.routing());                                  // moe::route
  m.alloc(Rd), keep(Rff), m.alloc(Rff), m.alloc(Rd);  // in, pre, gl, out
  m.alloc(Td);                                        // y = combine(out)
  m.free(Rd), m.free(Rff), m.free(Rd);                // out, gl, in
  m.alloc(Td), m.free(Td), m.free(Td);                // x += y
  return kept;
}

// The backward of one layer's MLP or MoE block and of its attention, its stored
// activations freed at the end.
void layer_backward(replay& m, const step_shape& z, u64 stored) {
  const u64 T = z.T, Td = T * z.d, Tq = T * z.q, Tkv = T * z.kv;
  if (!z.moe) {
    m.alloc(T * z.ff), m.alloc(z.pre()), m.alloc(Td);  // gl, dpre, dh2
    m.free(Td), m.free(z.pre()), m.free(T * z.ff);
  } else {
    const u64 Rd = z.R * z.d, Rff = z.R * z.ff;
    m.alloc(Rd), m.alloc(Rff), m.alloc(Rd), m.alloc(Rff);  // in, gl, dyr, dgl
    m.alloc(T * z.k), m.alloc(Rd), m.alloc(Td);            // dgate, din, dh
    m.alloc(T * z.E);                                      // dz
    m.free(T * z.E), m.free(Rd), m.free(T * z.k), m.free(Rff), m.free(Rd), m.free(Rff), m.free(Rd);
    m.free(Td);  // dh2, after rms_norm_backward
  }
  scratch(m, Tq);            // merge_heads(out) for dWo
  m.alloc(Tq), m.alloc(Tq);  // da, dout = split_heads(da)
  m.alloc(Tq + 2 * Tkv);     // the kernel's dq, dk, dv [heads, T, hd]
  if (z.flash) {
    // delta [heads, T]; K and V tiles transposed; P, dS and a transposed tile
    const u64 br = z.br(), bc = z.bc();
    scratch(m, z.heads * T + 2 * z.hd * bc + 3 * br * bc);
  } else {
    // dS [heads, T, T] and a panel of it transposed (attention/flash_backward.cpp)
    scratch(m, z.heads * T * T + T * std::min<u64>(attention::naive_backward_panel, T));
  }
  m.alloc(Tq + 2 * Tkv);  // dq, dk, dv merged [T, ·]
  m.alloc(Td);            // dh1
  m.free(stored);         // s.layers[l] = {}
  m.free(Td + 2 * (Tq + 2 * Tkv) + 2 * Tq);
}

// Values of one training step's peak (forward + backward of one sequence of T
// tokens), under the checkpoints of a policy.
u64 training_step_values(const model_shape& m, const recipe& how,
                         std::vector<u64>* series = nullptr) {
  step_shape z;
  z.T = u(how.seq), z.d = u(m.d_model), z.q = u(m.heads) * u(m.head_dim());
  z.kv = u(m.kv_heads) * u(m.head_dim()), z.heads = u(m.heads), z.ff = u(m.d_ff);
  z.hd = u(m.head_dim()), z.flash = how.attention == "flash";
  z.V = u(m.vocab), z.moe = m.experts > 0, z.swiglu = m.mlp == "swiglu";
  z.E = u(m.experts), z.k = u(m.top_k);
  z.R = 0;
  if (z.moe) {
    const double c = std::floor(m.capacity_factor * double(z.k) * double(z.T) / double(z.E));
    z.R = m.capacity_factor > 0 ? z.E * std::max<u64>(1, u64(c)) : z.T * z.k;
  }
  const int L = int(m.layers);
  const std::vector<int> checkpoints =
      checkpoint::checkpoints(checkpoint::policy::parse(how.checkpoint), L);
  const int last_start = checkpoints.back();
  auto is_checkpoint = [&](int l) {
    return std::binary_search(checkpoints.begin(), checkpoints.end(), l);
  };
  const u64 T = z.T, Td = T * z.d;
  replay r(series);
  // -- forward ----
  r.alloc(Td);                                   // x
  std::vector<u64> stored(std::size_t(L), 0);    // values a layer holds
  std::vector<bool> full(std::size_t(L), true);  // all its activations (not checkpointed)
  for (int l = 0; l < L; ++l) {
    const std::size_t i = std::size_t(l);
    stored[i] = layer_forward(r, z, false);
    if (l < last_start) {  // checkpointed: the layer keeps its input only, if a checkpoint
      const u64 keep = is_checkpoint(l) ? Td : 0;
      r.free(stored[i] - keep);
      stored[i] = keep, full[i] = false;
    }
  }
  r.alloc(Td), r.alloc(T), r.alloc(Td);  // x_final, invf, hf
  r.alloc(T * z.V);                      // logits, then their softmax
  r.free(Td);                            // x
  // -- backward ----
  r.alloc(T * z.V), r.alloc(Td), r.alloc(Td);  // dlogits, dhf, dx
  for (int l = L; l-- > 0;) {
    if (!full[std::size_t(l)]) {  // re-run the segment from its checkpoint
      const int begin = *(std::upper_bound(checkpoints.begin(), checkpoints.end(), l) - 1);
      r.alloc(Td);  // x = the checkpoint's input
      for (int i = begin; i <= l; ++i) {
        stored[std::size_t(i)] = layer_forward(r, z, i == begin);
        full[std::size_t(i)] = true;
      }
      r.free(Td);
    }
    layer_backward(r, z, stored[std::size_t(l)]);
    stored[std::size_t(l)] = 0;
  }
  return r.peak();
}

u64 training_activations(const model_shape& m, const recipe& how) {
  return times(training_step_values(m, how), u(how.activation_bytes), "activation bytes");
}

// A prefill's working set, estimated: the residual stream and a layer's
// temporaries (x, the normed input, q k v, the attention output, the MLP's
// hidden, once per token) and the last token's logits. Not measured.
u64 inference_activations(const model_shape& m, const recipe& how) {
  const u64 T = u(how.seq), d = u(m.d_model), q = u(m.heads) * u(m.head_dim()),
            kv = u(m.kv_heads) * u(m.head_dim());
  const u64 hidden = (m.mlp == "swiglu" ? 2 : 1) * u(m.d_ff) * (m.experts ? u(m.top_k) : 1);
  return u(how.activation_bytes) * (T * (2 * d + 2 * q + 2 * kv + hidden) + u(m.vocab));
}

std::string gb(u64 bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GB", double(bytes) / 1e9);
  return text;
}

void add_notes(plan_result& r) {
  const model_shape& m = r.model;
  const recipe& how = r.how;
  auto& n = r.notes;
  if (how.train == "none") {
    n.push_back("KV cache: " + std::to_string(r.kv_tokens) + " token slots (" +
                (how.paged ? "paged: ceil(seq / block) blocks per sequence"
                           : "contiguous: reserved up front") +
                ")");
    n.push_back("activations: an estimate of a prefill's working set, not measured");
  } else {
    n.push_back(
        "activations: the peak of one step of memlab's trainer (" +
        (how.attention == "flash"
             ? std::string("flash attention keeps O and a logsumexp [heads, seq] per layer")
             : std::string("naive attention keeps [heads, seq, seq] probabilities per layer")) +
        "), " + std::to_string(how.activation_bytes) + " bytes a value, one sequence times batch " +
        std::to_string(how.batch) + " (memlab's trainer runs a sequence at a time)");
    n.push_back("logits and their softmax, [seq, vocab] per sequence: " +
                gb(u(how.seq) * u(m.vocab) * u(how.activation_bytes)) + " of the activations");
  }
  if (how.train == "full")
    n.push_back(
        "full fine-tuning: 16 bytes a parameter (fp32 weights, gradients, AdamW m and v); "
        "mixed precision (bf16 weights and gradients, fp32 master, m, v) is also 16");
  if (how.train == "lora" || how.train == "qlora")
    n.push_back(
        "memlab's lesson LoRA forms W + BA and the full gradient G for the step (+8 bytes "
        "a parameter at its peak); PEFT never forms them");
  if (m.mlp == "swiglu" || m.norm == "layer" || m.biases)
    n.push_back(
        "extrapolated beyond the tiny GPT: SwiGLU keeps gate and up pre-activations, "
        "LayerNorm and biases add O(seq) per layer that is not counted");
  n.push_back(
      "not counted: CUDA context (~0.3-1 GB per GPU), the caching allocator's slack "
      "(reserved runs 5-20% above allocated), framework temporaries, fragmentation");
}

}  // namespace

matrix_bytes bytes_of(const std::string& format, u64 rows, u64 cols) {
  require_one_of(format, weight_formats(), "format");
  const u64 n = times(rows, cols, "matrix size");
  auto blocks_of = [&](u64 block) {
    require(cols % block == 0, "cols", cols, [&] {
      return "a multiple of " + std::to_string(block) + " (the " + format + " block)";
    });
    return n / block;
  };
  if (format == "fp32") return {4 * n, 0};
  if (format == "fp16" || format == "bf16") return {2 * n, 0};
  if (format == "q8_0") return {34 * blocks_of(32), 2 * blocks_of(32)};
  if (format == "q4_0") return {18 * blocks_of(32), 2 * blocks_of(32)};
  if (format == "q4_1") return {20 * blocks_of(32), 4 * blocks_of(32)};
  if (format == "nf4") return {n / 2 + 4 * blocks_of(64), 4 * blocks_of(64)};
  if (format == "nf4_dq") {
    const u64 b = blocks_of(64), scales = b + 4 * ceil_div(b, 256) + 4;
    return {n / 2 + scales, scales};
  }
  // int8_* / int4_*: memlab's default, groups of 128 along a row (quant/matrix.hpp)
  const bool eight = format.compare(0, 4, "int8") == 0,
             asymmetric = format.find("asym") != std::string::npos;
  const u64 groups = blocks_of(128);
  const u64 codes = eight ? n : rows * ceil_div(cols, 2);
  const u64 scales = 4 * groups + (asymmetric ? groups : 0);
  return {codes + scales, scales};
}

std::vector<u64> local_peaks(const std::vector<u64>& series) {
  std::vector<u64> peaks;
  bool rising = false;
  for (std::size_t i = 1; i < series.size(); ++i) {
    if (series[i] > series[i - 1]) {
      rising = true;
    } else if (series[i] < series[i - 1]) {
      if (rising) peaks.push_back(series[i - 1]);
      rising = false;
    }
  }
  if (rising) peaks.push_back(series.back());
  return peaks;
}

std::vector<u64> training_step_peaks(const model_shape& m, const recipe& how) {
  const plan_result checked = plan(m, how);  // every field checked as plan() does
  require(how.train != "none", "train", how.train, "full, lora or qlora (a training step)");
  std::vector<u64> series;
  training_step_values(checked.model, checked.how, &series);
  std::vector<u64> peaks = local_peaks(series);
  for (u64& p : peaks) p *= u(how.activation_bytes);
  return peaks;
}

const std::vector<std::string>& preset_names() {
  static const std::vector<std::string> names = {"gpt2",        "gpt3-175b",   "llama-2-7b",
                                                 "llama-2-13b", "llama-2-70b", "mixtral-8x7b"};
  return names;
}

model_shape preset(const std::string& name) {
  model_shape m;
  m.name = name;
  if (name == "gpt2" || name == "gpt3-175b") {  // Radford et al. 2019; Brown et al. 2020, Table 2.1
    const bool big = name != "gpt2";
    m.layers = big ? 96 : 12, m.d_model = big ? 12288 : 768, m.heads = big ? 96 : 12;
    m.kv_heads = m.heads, m.d_ff = 4 * m.d_model, m.vocab = 50257;
    m.positions = big ? 2048 : 1024, m.mlp = "gelu", m.norm = "layer", m.tied = true;
    m.biases = true;
    return m;
  }
  // Llama 2 (Touvron et al. 2023; the released config.json files) and Mixtral 8x7B
  // (Jiang et al. 2024): rotary positions, SwiGLU, RMSNorm, untied head, no biases.
  m.vocab = 32000, m.mlp = "swiglu", m.norm = "rms", m.tied = false;
  if (name == "llama-2-7b") {
    m.layers = 32, m.d_model = 4096, m.heads = 32, m.kv_heads = 32, m.d_ff = 11008;
  } else if (name == "llama-2-13b") {
    m.layers = 40, m.d_model = 5120, m.heads = 40, m.kv_heads = 40, m.d_ff = 13824;
  } else if (name == "llama-2-70b") {
    m.layers = 80, m.d_model = 8192, m.heads = 64, m.kv_heads = 8, m.d_ff = 28672;
  } else if (name == "mixtral-8x7b") {
    m.layers = 32, m.d_model = 4096, m.heads = 32, m.kv_heads = 8, m.d_ff = 14336;
    m.experts = 8, m.top_k = 2;
  } else {
    require(false, "preset", name, [] { return "one of " + joined(preset_names()); });
  }
  return m;
}

model_shape shape_of(const gpt::config& c) {
  gpt::check(c);
  model_shape m;
  m.name = "tiny GPT";
  m.layers = c.layers, m.d_model = c.d_model, m.heads = c.heads, m.kv_heads = c.kv_heads;
  m.d_ff = c.d_ff, m.vocab = gpt::vocab, m.positions = c.max_seq;
  m.mlp = "gelu", m.norm = "rms", m.tied = c.tied, m.biases = false;
  m.experts = c.experts, m.top_k = c.top_k, m.capacity_factor = double(c.capacity_factor);
  return m;
}

const std::vector<device>& devices() {
  static const std::vector<device> list = {
      {"8 GB laptop", u64(8) << 30}, {"24 GB GPU", u64(24) << 30}, {"80 GB A100", u64(80) << 30}};
  return list;
}

plan_result plan(const model_shape& m, const recipe& how) {
  check(m);
  require_one_of(how.weights, weight_formats(), "weights");
  const std::string embeddings = how.embeddings.empty() ? how.weights : how.embeddings;
  require_one_of(embeddings, weight_formats(), "embeddings");
  require_one_of(how.train, {"none", "full", "lora", "qlora"}, "train");
  require_one_of(how.attention, {"flash", "naive"}, "attention");
  require_size(how.seq, "seq", 1 << 20);
  require_size(how.batch, "batch", 1 << 16);
  require_size(how.block, "block", 1 << 20);
  require(how.context >= 0 && how.context <= 1 << 20, "context", how.context,
          "0 (seq) or a number of tokens up to 2^20");
  require(how.activation_bytes == 2 || how.activation_bytes == 4, "activation_bytes",
          how.activation_bytes, "2 (bf16/fp16) or 4 (fp32)");
  plan_result r;
  r.model = m, r.how = how;
  const bool training = how.train != "none";
  const u64 L = u(m.layers), B = u(how.batch);

  // -- parameters and weights ----
  // Full fine-tuning trains fp32 weights; QLoRA stores the linear layers in NF4
  // with double quantization (blocks of 64), the rest as the recipe says.
  const std::string linear = how.train == "full"    ? "fp32"
                             : how.train == "qlora" ? "nf4_dq"
                                                    : how.weights;
  const std::string embedding = how.train == "full" ? "fp32" : embeddings;
  for (const tensor_shape& t : tensors(m)) {
    const u64 values = times(t.rows * t.cols, t.count, "parameters");
    r.params_total += values;
    const std::string& format = t.kind == storage::linear      ? linear
                                : t.kind == storage::embedding ? embedding
                                                               : std::string("fp32");
    const matrix_bytes b = bytes_of(format, t.rows, t.cols);
    r.bytes.weights += times(b.total, t.count, "weight bytes");
    r.bytes.weight_scales += b.scales * t.count;
  }
  const u64 idle_experts = m.experts ? u(m.experts - m.top_k) : 0;
  r.params_active = r.params_total - L * idle_experts * expert_parameters(m);

  // -- KV cache (inference) ----
  if (!training) {
    const u64 per_token_32 = times(2 * L * u(m.kv_heads) * u(m.head_dim()),
                                   kv_element_bytes_times_32(how.kv), "KV bytes per token");
    if (how.kv == "q8_0" || how.kv == "q4_0")
      require(m.head_dim() % 32 == 0, "head_dim", m.head_dim(), "a multiple of 32 (the KV block)");
    const u64 per_sequence = how.paged ? ceil_div(u(how.seq), u(how.block)) * u(how.block)
                                       : u(how.context ? how.context : how.seq);
    r.kv_tokens = times(per_sequence, B, "KV tokens");
    r.bytes.kv_cache = times(r.kv_tokens, per_token_32, "KV bytes") / 32;
  }

  // -- training: gradients, optimizer, adapters, activations ----
  if (how.train == "full") {
    r.params_trainable = r.params_total;
  } else if (how.train == "lora" || how.train == "qlora") {
    const u64 d = u(m.d_model), q = u(m.heads) * u(m.head_dim()),
              kv = u(m.kv_heads) * u(m.head_dim()), rank = u(how.rank);
    require(how.rank >= 1 && rank <= std::min(d, kv), "rank", how.rank, [&] {
      return "in [1, " + std::to_string(std::min(d, kv)) +
             "] (the smallest dimension of wq wk wv wo)";
    });
    r.params_trainable = L * rank * ((d + q) + 2 * (d + kv) + (q + d));
    r.bytes.adapters = 4 * r.params_trainable;
  }
  r.bytes.gradients = 4 * r.params_trainable;
  r.bytes.optimizer = 8 * r.params_trainable;
  if (training) {
    r.bytes.activations = times(training_activations(m, how), B, "activation bytes");
  } else {
    r.bytes.activations = times(inference_activations(m, how), B, "activation bytes");
  }
  add_notes(r);
  return r;
}

}  // namespace memlab::planner
