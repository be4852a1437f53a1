#include "model/gpt.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <xtensor/xmanipulation.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xstrides.hpp>

#include "attention/attention.hpp"
#include "attention/decode.hpp"
#include "base/error.hpp"
#include "base/kernels.hpp"
#include "base/random.hpp"

namespace memlab::gpt {
namespace {

constexpr float norm_eps = 1e-5f;
constexpr char magic[8] = {'M', 'L', 'A', 'B', 'G', 'P', 'T', '1'};
constexpr std::size_t header_bytes = sizeof magic + 8 * sizeof(std::uint32_t);

std::size_t u(int x) { return static_cast<std::size_t>(x); }
std::uint32_t u32(int x) { return static_cast<std::uint32_t>(x); }

// y [n, out] = x [n, in] · w [in, out]
tensor<2> linear(const tensor<2>& x, const tensor<2>& w) {
  tensor<2> y = xt::zeros<float>({x.shape(0), w.shape(1)});
  kernels::matmul_accumulate(x.data(), x.shape(0), x.shape(1), w.data(), w.shape(1), y.data());
  return y;
}

// RMSNorm of one row of d values: y = x / sqrt(mean(x²) + eps) · gain.
void rms_norm(const float* x, const tensor<1>& gain, std::size_t d, float* y) {
  const float inv = 1.0f / std::sqrt(kernels::dot(x, x, d) / static_cast<float>(d) + norm_eps);
  const float* g = gain.data();
  for (std::size_t c = 0; c < d; ++c) y[c] = x[c] * inv * g[c];
}

// The same, row by row.
tensor<2> rms_norm(const tensor<2>& x, const tensor<1>& gain) {
  auto y = tensor<2>::from_shape(x.shape());
  const std::size_t d = x.shape(1);
  for (std::size_t i = 0; i < x.shape(0); ++i)
    rms_norm(x.data() + i * d, gain, d, y.data() + i * d);
  return y;
}

// GELU, tanh approximation (as GPT-2), of a float or of a vfloat lane by lane.
template <class T>
T gelu(T v) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2 / pi)
  return 0.5f * v * (1.0f + kernels::tanh_approx(k * (v + 0.044715f * v * v * v)));
}

// In place on n values, a vector at a time (GCC left the plain loop scalar).
void gelu(float* v, std::size_t n) {
  std::size_t i = 0;
  for (; i + kernels::lanes <= n; i += kernels::lanes)
    kernels::store(v + i, gelu(kernels::load(v + i)));
  for (; i < n; ++i) v[i] = gelu(v[i]);
}

// A tensor of another rank over the same storage, row-major: one token's
// [heads · head_dim] row already is [heads, 1, head_dim] in memory (and back),
// so a decoding step takes the storage over instead of copying it.
template <std::size_t N, std::size_t M>
tensor<N> same_storage(tensor<M>&& x, const std::array<std::size_t, N>& shape) {
  typename tensor<N>::inner_shape_type s;
  std::copy(shape.begin(), shape.end(), s.begin());
  typename tensor<N>::inner_strides_type strides;
  xt::compute_strides(s, xt::layout_type::row_major, strides);
  return tensor<N>(std::move(x.storage()), std::move(s), std::move(strides));
}

// [n, heads · head_dim] -> [heads, n, head_dim]
tensor<3> split_heads(tensor<2>&& x, std::size_t heads) {
  const std::size_t n = x.shape(0), hd = x.shape(1) / heads;
  if (n == 1) return same_storage<3>(std::move(x), {heads, 1, hd});
  auto y = tensor<3>::from_shape({heads, n, hd});
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < n; ++i)
      std::copy_n(x.data() + i * x.shape(1) + h * hd, hd, y.data() + (h * n + i) * hd);
  return y;
}

// [heads, n, head_dim] -> [n, heads · head_dim]
tensor<2> merge_heads(tensor<3>&& x) {
  const std::size_t heads = x.shape(0), n = x.shape(1), hd = x.shape(2);
  if (n == 1) return same_storage<2>(std::move(x), {1, heads * hd});
  auto y = tensor<2>::from_shape({n, heads * hd});
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < n; ++i)
      std::copy_n(x.data() + (h * n + i) * hd, hd, y.data() + i * heads * hd + h * hd);
  return y;
}

// The model's attention: the same code with or without a cache. With one, the
// new K/V join what it holds and the queries attend over all of it (the causal
// mask is aligned to the end, so new token i sees everything before it).
tensor<3> attend(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v, kv_cache* cache,
                 std::size_t layer) {
  const attention::flash_options causal{true, 64, 64};
  if (!cache) return attention::flash(q, k, v, causal);
  cache->append(layer, k, v);
  return attention::flash(q, cache->layer(layer), causal);
}

// The fixed-size shape of tensor type T from a list of extents.
template <class T>
typename T::shape_type shape_of(const std::vector<std::size_t>& extents) {
  typename T::shape_type s;
  std::copy(extents.begin(), extents.end(), s.begin());
  return s;
}

// Every weight tensor in file order, with the shape the config gives it.
template <class Weights, class F>
void for_each_tensor(Weights& w, const config& c, F&& f) {
  const std::size_t d = u(c.d_model), hd = u(c.head_dim()), ff = u(c.d_ff);
  const std::size_t q = u(c.heads) * hd, kv = u(c.kv_heads) * hd;
  f("token_embedding", w.token_embedding, std::vector<std::size_t>{u(vocab), d});
  f("position_embedding", w.position_embedding, std::vector<std::size_t>{u(c.max_seq), d});
  for (auto& l : w.layers) {
    f("norm1", l.norm1, std::vector<std::size_t>{d});
    f("wq", l.wq, std::vector<std::size_t>{d, q});
    f("wk", l.wk, std::vector<std::size_t>{d, kv});
    f("wv", l.wv, std::vector<std::size_t>{d, kv});
    f("wo", l.wo, std::vector<std::size_t>{q, d});
    f("norm2", l.norm2, std::vector<std::size_t>{d});
    if (c.experts == 0) {
      f("w1", l.w1, std::vector<std::size_t>{d, ff});
      f("w2", l.w2, std::vector<std::size_t>{ff, d});
      continue;
    }
    f("router", l.router, std::vector<std::size_t>{d, u(c.experts)});
    for (auto& e : l.experts) {
      f("w1", e.w1, std::vector<std::size_t>{d, ff});
      f("w2", e.w2, std::vector<std::size_t>{ff, d});
    }
  }
  f("norm_f", w.norm_f, std::vector<std::size_t>{d});
  if (!c.tied) f("lm_head", w.lm_head, std::vector<std::size_t>{d, u(vocab)});
}

// The sizes of a config, for the messages of its limits.
void check_fits(const config& c, count bytes, const char* what) {
  require_bytes(
      bytes,
      {{"layers", c.layers}, {"d_model", c.d_model}, {"d_ff", c.d_ff}, {"max_seq", c.max_seq}},
      what);
}

// Weights with the config's layers and experts, their tensors still empty.
weights sized(const config& c) {
  weights w;
  w.layers.resize(u(c.layers));
  for (auto& l : w.layers) l.experts.resize(u(c.experts));
  return w;
}

// A cache the model can use: its layers, kv_heads and head_dim.
void check_cache(const config& c, const kv_cache& cache) {
  require(
      cache.layers() == u(c.layers) && cache.kv_heads() == u(c.kv_heads) &&
          cache.head_dim() == u(c.head_dim()),
      "cache",
      [&] {
        return "layers " + std::to_string(cache.layers()) + ", kv_heads " +
               std::to_string(cache.kv_heads()) + ", head_dim " + std::to_string(cache.head_dim());
      },
      "the model's layers, kv_heads and head_dim");
}

std::string config_text(const config& c) {
  return "layers " + std::to_string(c.layers) + ", d_model " + std::to_string(c.d_model) +
         ", heads " + std::to_string(c.heads) + ", kv_heads " + std::to_string(c.kv_heads) +
         ", d_ff " + std::to_string(c.d_ff) + ", max_seq " + std::to_string(c.max_seq) +
         (c.tied ? ", tied" : ", untied") +
         (c.experts ? ", experts " + std::to_string(c.experts) : std::string());
}

}  // namespace

count parameters(const config& c) {
  // As for_each_tensor lays them out (q = heads · head_dim = d_model).
  const count d = c.d_model, kv = count(c.kv_heads) * c.head_dim(), ff = c.d_ff;
  const count mlp = c.experts == 0 ? count(2) * d * ff  // w1 w2, or a router and E experts
                                   : d * c.experts + count(c.experts) * 2 * d * ff;
  const count layer = count(2) * d + d * d + count(2) * d * kv + d * d + mlp;
  return count(vocab) * d + count(c.max_seq) * d + count(c.layers) * layer + d +
         (c.tied ? count(0) : d * vocab);
}

count forward_bytes(const config& c, count n) {
  const count d = c.d_model, kv = count(c.kv_heads) * c.head_dim();
  // x, norm, q, attention output and the projection back (d each), k and v
  // (kv each), the MLP hidden; flash's tile of scores; the logits.
  // (With experts: router logits and the top_k experts' inputs and hidden.)
  const count moe = c.experts ? count(c.experts) + count(c.top_k) * (d + c.d_ff) : count(0);
  const count rows = n * (count(5) * d + count(2) * kv + c.d_ff + vocab + moe);
  return (rows + count(64) * 64) * sizeof(float);
}

forward_cost cost(const config& c) {
  const double d = c.d_model, kv = double(c.kv_heads) * c.head_dim(), ff = c.d_ff;
  // wq wo, wk wv, and w1 w2 (with experts: top_k experts' and the router's)
  const double mlp = c.experts ? c.top_k * 2 * d * ff + d * c.experts : 2 * d * ff;
  const double linear = 2 * (2 * d * d + 2 * d * kv + mlp);
  const double elementwise = 20 * (4 * d + ff) + 2000;
  const double attention = 4.0 * c.heads * c.head_dim() + 24.0 * c.heads;
  return {c.layers * (linear + elementwise), c.layers * attention, 2 * d * vocab};
}

double forward_flops(const config& c, double n, double start, double logits) {
  const forward_cost k = cost(c);
  return n * k.token + (n * start + n * (n + 1) / 2) * k.pair + logits * k.logits;
}

void check(const config& c) {
  require_positive(c.layers, "layers");
  require_positive(c.d_model, "d_model");
  require_positive(c.heads, "heads");
  require_positive(c.kv_heads, "kv_heads");
  require_positive(c.d_ff, "d_ff");
  require_positive(c.max_seq, "max_seq");
  require(c.d_model % c.heads == 0, "d_model", c.d_model,
          [&] { return "a multiple of " + named("heads", c.heads); });
  require(c.heads % c.kv_heads == 0, "kv_heads", c.kv_heads,
          [&] { return "a divisor of " + named("heads", c.heads); });
  require(c.experts >= 0, "experts", c.experts, "0 (a dense MLP) or a number of experts");
  if (c.experts) moe::check(c.experts, c.top_k, c.capacity_factor);
  require(std::isfinite(c.aux_loss_coef) && c.aux_loss_coef >= 0.0f, "aux_loss_coef",
          c.aux_loss_coef, "0 or a positive number");
}

model::model(const config& c, std::uint32_t seed) : config_(c) {
  check(c);
  check_fits(c, parameters(c) * sizeof(float), "the model's fp32 weights");
  rng gen(seed);
  const float stddev = 0.02f;
  const float residual = stddev / std::sqrt(2.0f * static_cast<float>(c.layers));
  weights_ = sized(c);
  for_each_tensor(
      weights_, c, [&](const char* name, auto& t, const std::vector<std::size_t>& extents) {
        using tensor_type = std::decay_t<decltype(t)>;
        const auto shape = shape_of<tensor_type>(extents);
        if constexpr (std::tuple_size_v<typename tensor_type::shape_type> == 1) {
          t = tensor_type(shape, 1.0f);  // norm gains start at 1
        } else {
          const bool into_residual = !std::strcmp(name, "wo") || !std::strcmp(name, "w2");
          const float s = !std::strcmp(name, "position_embedding") ? 0.01f
                          : into_residual                          ? residual
                                                                   : stddev;
          t = random_normal(shape, gen, s);
        }
      });
}

model::model(const config& c, weights w) : config_(c), weights_(std::move(w)) {
  check(c);
  check_fits(c, parameters(c) * sizeof(float), "the model's fp32 weights");
  require(weights_.layers.size() == u(c.layers), "weights.layers.size()", weights_.layers.size(),
          [&] { return named("layers", c.layers); });
  for (const auto& l : weights_.layers)
    require(l.experts.size() == u(c.experts), "weights.layers[].experts.size()", l.experts.size(),
            [&] { return named("experts", c.experts); });
  for_each_tensor(weights_, c, [](const char* name, const auto& t, const auto& shape) {
    require(std::equal(shape.begin(), shape.end(), t.shape().begin(), t.shape().end()), name,
            shape_text(t.shape()), [&] { return "shape " + shape_text(shape); });
  });
}

std::size_t model::parameter_count() const { return parameters(config_).size(); }

std::size_t model::active_parameter_count() const {
  const config& c = config_;
  const std::size_t idle = c.experts ? u(c.experts - c.top_k) : 0;
  return parameter_count() - u(c.layers) * idle * 2 * u(c.d_model) * u(c.d_ff);
}

std::size_t model::weight_bytes() const {
  std::size_t bytes = parameter_count() * sizeof(float);
  auto swap = [&](const quant::quantized_matrix& m) {
    bytes = bytes - m.rows() * m.cols() * sizeof(float) + m.bytes();
  };
  for (const auto& ql : quantized_) {
    for (const auto* m : {&ql.wq, &ql.wk, &ql.wv, &ql.wo}) swap(*m);
    for (const auto& m : ql.mlp) swap(m);
  }
  return bytes;
}

tensor<2> model::project(const tensor<2>& x, const tensor<2>& w,
                         const quant::quantized_matrix* quantized) const {
  if (!quantized) return linear(x, w);
  tensor<2> y = xt::zeros<float>({x.shape(0), quantized->rows()});
  project_rows(x.data(), x.shape(0), x.shape(1), w, quantized, y.data());
  return y;
}

void model::project_rows(const float* x, std::size_t rows, std::size_t in, const tensor<2>& w,
                         const quant::quantized_matrix* quantized, float* y) const {
  if (!quantized) {
    kernels::matmul_accumulate(x, rows, in, w.data(), w.shape(1), y);
    return;
  }
  const std::size_t out = quantized->rows();
  auto row = tensor<1>::from_shape({in});
  for (std::size_t i = 0; i < rows; ++i) {
    std::copy_n(x + i * in, in, row.data());
    const tensor<1> product = quantized->matvec(row);
    for (std::size_t j = 0; j < out; ++j) y[i * out + j] += product(j);
  }
}

model model::quantized(const quant::format& format) const {
  require(quantized_.empty(), "model", "quantized", "an fp32 model to quantize");
  model q(*this);
  auto quantize = [&](tensor<2>& w) {
    const tensor<2> out_by_in = xt::transpose(w);
    auto m = quant::quantized_matrix::quantize(out_by_in, format);
    w = tensor<2>();  // the fp32 copy is not kept: the bytes are the quantized ones
    return m;
  };
  for (auto& l : q.weights_.layers) {
    quantized_layer ql{quantize(l.wq), quantize(l.wk), quantize(l.wv), quantize(l.wo), {}};
    if (config_.experts == 0) {
      ql.mlp.push_back(quantize(l.w1)), ql.mlp.push_back(quantize(l.w2));
    }
    for (auto& e : l.experts) ql.mlp.push_back(quantize(e.w1)), ql.mlp.push_back(quantize(e.w2));
    q.quantized_.push_back(std::move(ql));
  }
  return q;
}

const quant::format* model::weight_format() const {
  return quantized_.empty() ? nullptr : &quantized_.front().wq.fmt();
}

contiguous_kv_cache model::make_cache() const {
  return contiguous_kv_cache(u(config_.layers), u(config_.kv_heads), u(config_.max_seq),
                             u(config_.head_dim()));
}

tensor<2> model::hidden(const std::vector<int>& tokens, kv_cache* cache,
                        std::vector<std::vector<std::size_t>>* choices) const {
  const config& c = config_;
  const std::size_t n = tokens.size();
  require(n > 0, "tokens", n, "at least 1 token");
  for (std::size_t i = 0; i < n; ++i)
    require(tokens[i] >= 0 && tokens[i] < vocab, "token", tokens[i],
            [&] { return "a byte value in [0, 256) at index " + std::to_string(i); });
  // A cache that cannot take n more tokens refuses them in the first layer's
  // append (every layer appends the same n), before anything is stored.
  const std::size_t start = cache ? cache->length() : 0;
  if (cache) check_cache(c, *cache);
  require(start + n <= u(c.max_seq), "position", start + n - 1,
          [&] { return "less than " + named("max_seq", c.max_seq); });
  check_fits(c, forward_bytes(c, n), "a forward pass's activations");
  require_work(
      forward_flops(c, double(n), double(start), double(n)),
      {{"tokens", static_cast<long long>(n)}, {"layers", c.layers}, {"d_model", c.d_model}},
      "a forward pass");

  const std::size_t d = u(c.d_model);
  auto x = tensor<2>::from_shape({n, d});
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < d; ++j)
      x(i, j) =
          weights_.token_embedding(u(tokens[i]), j) + weights_.position_embedding(start + i, j);

  for (std::size_t layer = 0; layer < weights_.layers.size(); ++layer) {
    const layer_weights& w = weights_.layers[layer];
    const quantized_layer* ql = quantized_.empty() ? nullptr : &quantized_[layer];
    const tensor<2> h = rms_norm(x, w.norm1);
    const tensor<3> q = split_heads(project(h, w.wq, ql ? &ql->wq : nullptr), u(c.heads));
    const tensor<3> k = split_heads(project(h, w.wk, ql ? &ql->wk : nullptr), u(c.kv_heads));
    const tensor<3> v = split_heads(project(h, w.wv, ql ? &ql->wv : nullptr), u(c.kv_heads));
    const tensor<2> a = merge_heads(attend(q, k, v, cache, layer));
    xt::noalias(x) += project(a, w.wo, ql ? &ql->wo : nullptr);
    feed_forward(layer, x, choices);
  }
  return rms_norm(x, weights_.norm_f);
}

void model::feed_forward(std::size_t layer, tensor<2>& x,
                         std::vector<std::vector<std::size_t>>* choices) const {
  const layer_weights& w = weights_.layers[layer];
  const quantized_layer* ql = quantized_.empty() ? nullptr : &quantized_[layer];
  if (config_.experts == 0) {
    tensor<2> m = project(rms_norm(x, w.norm2), w.w1, ql ? &ql->mlp[0] : nullptr);
    gelu(m.data(), m.size());
    xt::noalias(x) += project(m, w.w2, ql ? &ql->mlp[1] : nullptr);
    return;
  }
  // MoE: route, run each expert on its segment of the dispatched rows, combine.
  const tensor<2> h = rms_norm(x, w.norm2);
  const moe::routing r = moe::route(h, w.router, config_.top_k, config_.capacity_factor);
  if (choices) choices->push_back(r.chosen());
  const tensor<2> in = moe::dispatch(h, r);
  const std::size_t d = u(config_.d_model), ff = u(config_.d_ff);
  tensor<2> m = xt::zeros<float>({r.rows(), ff});
  tensor<2> out = xt::zeros<float>({r.rows(), d});
  for (std::size_t e = 0; e < w.experts.size(); ++e) {
    const std::size_t first = std::size_t(r.first[e]), rows = std::size_t(r.load[e]);
    project_rows(in.data() + first * d, rows, d, w.experts[e].w1, ql ? &ql->mlp[2 * e] : nullptr,
                 m.data() + first * ff);
    gelu(m.data() + first * ff, rows * ff);
    project_rows(m.data() + first * ff, rows, ff, w.experts[e].w2,
                 ql ? &ql->mlp[2 * e + 1] : nullptr, out.data() + first * d);
  }
  xt::noalias(x) += moe::combine(out, r);
}

void model::output_head(const float* h, std::size_t rows, float* logits) const {
  const std::size_t d = u(config_.d_model);
  if (!config_.tied) {
    std::fill_n(logits, rows * u(vocab), 0.0f);
    kernels::matmul_accumulate(h, rows, d, weights_.lm_head.data(), u(vocab), logits);
    return;
  }
  // Tied: logits_t = h · token_embedding[t], the embedding row read as an output row
  // (one row against many, as attention's scores while decoding).
  for (std::size_t i = 0; i < rows; ++i)
    kernels::scaled_dots(h + i * d, weights_.token_embedding.data(),
                         weights_.token_embedding.shape(0), d, 1.0f, logits + i * u(vocab));
}

tensor<2> model::forward(const std::vector<int>& tokens, kv_cache* cache) const {
  const tensor<2> h = hidden(tokens, cache);
  auto logits = tensor<2>::from_shape({h.shape(0), u(vocab)});
  output_head(h.data(), h.shape(0), logits.data());
  return logits;
}

tensor<1> model::next_logits(const std::vector<int>& tokens, kv_cache* cache) const {
  const tensor<2> h = hidden(tokens, cache);
  auto logits = tensor<1>::from_shape({u(vocab)});
  output_head(h.data() + (h.shape(0) - 1) * h.shape(1), 1, logits.data());
  return logits;
}

std::vector<std::vector<std::size_t>> model::expert_choices(const std::vector<int>& tokens) const {
  require(config_.experts > 0, "experts", config_.experts, "an MoE model (experts >= 1)");
  std::vector<std::vector<std::size_t>> choices;
  hidden(tokens, nullptr, &choices);
  return choices;
}

std::vector<std::uint8_t> model::to_bytes() const {
  require(quantized_.empty(), "model", "quantized",
          "an fp32 model (quantized weights are not saved)");
  require(config_.experts == 0, "experts", config_.experts,
          "0: a dense model (file version 1 holds no experts)");
  const config& c = config_;
  std::vector<std::uint8_t> bytes(magic, magic + sizeof magic);
  const std::uint32_t fields[8] = {u32(c.layers), u32(c.d_model), u32(c.heads),     u32(c.kv_heads),
                                   u32(c.d_ff),   u32(c.max_seq), c.tied ? 1u : 0u, u32(vocab)};
  const auto* f = reinterpret_cast<const std::uint8_t*>(fields);
  bytes.insert(bytes.end(), f, f + sizeof fields);
  bytes.reserve(header_bytes + parameter_count() * sizeof(float));
  for_each_tensor(weights_, c, [&](const char*, const auto& t, const auto&) {
    const auto* p = reinterpret_cast<const std::uint8_t*>(t.data());
    bytes.insert(bytes.end(), p, p + t.size() * sizeof(float));
  });
  return bytes;
}

model model::from_bytes(const std::vector<std::uint8_t>& bytes) {
  require(bytes.size() >= header_bytes, "file size", bytes.size(),
          [&] { return "at least " + std::to_string(header_bytes) + " bytes (magic and config)"; });
  require(std::equal(magic, magic + sizeof magic, bytes.begin()), "magic",
          std::string(bytes.begin(), bytes.begin() + sizeof magic),
          "\"MLABGPT1\" (a memlab GPT file, version 1)");
  std::uint32_t fields[8];
  std::memcpy(fields, bytes.data() + sizeof magic, sizeof fields);
  require(fields[7] == u32(vocab), "vocab", fields[7], "256 (bytes)");
  config c;
  c.layers = static_cast<int>(fields[0]);
  c.d_model = static_cast<int>(fields[1]);
  c.heads = static_cast<int>(fields[2]);
  c.kv_heads = static_cast<int>(fields[3]);
  c.d_ff = static_cast<int>(fields[4]);
  c.max_seq = static_cast<int>(fields[5]);
  c.tied = fields[6] != 0;
  check(c);
  const count expected = count(header_bytes) + parameters(c) * sizeof(float);
  require(count(bytes.size()) == expected, "file size", bytes.size(), [&] {
    return "exactly " + std::to_string(expected.value()) + " bytes for " + config_text(c) +
           (count(bytes.size()) < expected ? " (truncated)" : " (trailing bytes)");
  });
  check_fits(c, parameters(c) * sizeof(float), "the model's fp32 weights");
  weights w;
  w.layers.resize(u(c.layers));
  std::size_t offset = header_bytes, layer = 0;
  for_each_tensor(w, c, [&](const char* name, auto& t, const std::vector<std::size_t>& extents) {
    using tensor_type = std::decay_t<decltype(t)>;
    t = tensor_type::from_shape(shape_of<tensor_type>(extents));
    std::memcpy(t.data(), bytes.data() + offset, t.size() * sizeof(float));
    offset += t.size() * sizeof(float);
    // Named as in the file: "layers[1].wq[5] = nan: expected a finite value".
    const bool per_layer = std::strcmp(name, "token_embedding") &&
                           std::strcmp(name, "position_embedding") && std::strcmp(name, "norm_f") &&
                           std::strcmp(name, "lm_head");
    if (!std::strcmp(name, "norm1")) ++layer;  // each layer's first tensor
    const std::string label =
        per_layer ? "layers[" + std::to_string(layer - 1) + "]." + name : std::string(name);
    require_finite(t.data(), t.size(), label.c_str());
  });
  return model(c, std::move(w));
}

void model::save(const std::string& path) const {
  const auto bytes = to_bytes();
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path);
}

model model::load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  const std::vector<std::uint8_t> bytes{std::istreambuf_iterator<char>(in),
                                        std::istreambuf_iterator<char>()};
  return from_bytes(bytes);
}

decoder::decoder(const model& m, kv_cache& cache) : model_(m), cache_(cache) {
  const config& c = m.cfg();
  check_cache(c, cache);
  check_fits(c, bytes(c), "a decoder's buffers");
  const std::size_t d = u(c.d_model), kv = u(c.kv_heads), hd = u(c.head_dim());
  x_ = tensor<2>::from_shape({1, d});
  h_ = tensor<1>::from_shape({d});
  q_ = tensor<1>::from_shape({d});
  k_ = tensor<3>::from_shape({kv, 1, hd});
  v_ = tensor<3>::from_shape({kv, 1, hd});
  hidden_ = tensor<1>::from_shape({u(c.d_ff)});
  scores_ = tensor<1>::from_shape({u(c.max_seq)});
  logits_ = tensor<1>::from_shape({u(vocab)});
}

count decoder::bytes(const config& c) {
  return (count(3) * c.d_model + count(2) * c.kv_heads * c.head_dim() + c.d_ff + c.max_seq +
          vocab) *
         sizeof(float);
}

const tensor<1>& decoder::step(int token) {
  const config& c = model_.config_;
  const weights& w = model_.weights_;
  const std::size_t d = u(c.d_model), ff = u(c.d_ff), pos = cache_.length();
  require(token >= 0 && token < vocab, "token", token, "a byte value in [0, 256)");
  require(pos < u(c.max_seq), "position", pos,
          [&] { return "less than " + named("max_seq", c.max_seq); });
  // y [out] = x [in] · W, through the quantized copy when there is one; the
  // products accumulate, so y starts at 0 (or is x itself: the residual sums).
  auto project = [&](const float* x, std::size_t in, const tensor<2>& fp32,
                     const quant::quantized_matrix* quantized,
                     float* y) { model_.project_rows(x, 1, in, fp32, quantized, y); };
  float* const x = x_.data();
  for (std::size_t j = 0; j < d; ++j)
    x[j] = w.token_embedding(u(token), j) + w.position_embedding(pos, j);

  for (std::size_t layer = 0; layer < w.layers.size(); ++layer) {
    const layer_weights& lw = w.layers[layer];
    const auto* ql = model_.quantized_.empty() ? nullptr : &model_.quantized_[layer];
    rms_norm(x, lw.norm1, d, h_.data());
    q_.fill(0.0f), k_.fill(0.0f), v_.fill(0.0f);
    project(h_.data(), d, lw.wq, ql ? &ql->wq : nullptr, q_.data());
    project(h_.data(), d, lw.wk, ql ? &ql->wk : nullptr, k_.data());
    project(h_.data(), d, lw.wv, ql ? &ql->wv : nullptr, v_.data());
    cache_.append(layer, k_, v_);
    attention::decode(q_.data(), u(c.heads), cache_.layer(layer), scores_.data(), h_.data());
    project(h_.data(), d, lw.wo, ql ? &ql->wo : nullptr, x);  // x += attention · wo
    if (c.experts > 0) {
      model_.feed_forward(layer, x_, nullptr);
      continue;
    }
    rms_norm(x, lw.norm2, d, h_.data());
    hidden_.fill(0.0f);
    project(h_.data(), d, lw.w1, ql ? &ql->mlp[0] : nullptr, hidden_.data());
    gelu(hidden_.data(), ff);
    project(hidden_.data(), ff, lw.w2, ql ? &ql->mlp[1] : nullptr, x);  // x += mlp · w2
  }
  rms_norm(x, w.norm_f, d, h_.data());
  model_.output_head(h_.data(), 1, logits_.data());
  return logits_;
}

std::uint64_t kv_cache_bytes(const config& c, std::uint64_t tokens) {
  check(c);
  const std::uint64_t bytes =
      contiguous_kv_cache::bytes_for(u(c.layers), u(c.kv_heads), tokens, u(c.head_dim()));
  // Exact as a double (a JS number) up to 2^53; a product that saturated is past it too.
  require(bytes <= (std::uint64_t{1} << 53), "2 · layers · kv_heads · tokens · head_dim · 4",
          8.0 * c.layers * c.kv_heads * double(tokens) * c.head_dim(),
          "at most 2^53 bytes (8 PiB, exact as a JS number)");
  return bytes;
}

std::vector<int> encode(const std::string& text) {
  std::vector<int> tokens;
  for (unsigned char ch : text) tokens.push_back(ch);
  return tokens;
}

std::string decode(const std::vector<int>& tokens) {
  std::string text;
  for (int t : tokens) text.push_back(static_cast<char>(t));
  return text;
}

}  // namespace memlab::gpt
