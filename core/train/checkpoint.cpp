#include "train/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "base/dense.hpp"
#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"

namespace memlab::checkpoint {
namespace {

using dense::add_a_bt;
using dense::add_at_b;
using dense::matmul;

using dense::gelu;
using dense::gelu_grad;

// One block's forward: p = x·W1 (returned in pre), y = x + gelu(p)·W2.
// Live during it: p, gelu(p), y (2h + a).
tensor<2> block_forward(const mlp_block& w, const tensor<2>& x, tensor<2>& pre) {
  pre = matmul(x, w.w1);
  tensor<2> g = pre;
  for (float& v : g) v = gelu(v);
  tensor<2> y = x;
  const std::size_t r = g.shape(0), f = g.shape(1), d = y.shape(1);
  for (std::size_t i = 0; i < r; ++i)
    for (std::size_t j = 0; j < f; ++j) {
      const float v = g(i, j);
      const float* wj = &w.w2(j, 0);
      float* yi = &y(i, 0);
      for (std::size_t t = 0; t < d; ++t) yi[t] += v * wj[t];
    }
  return y;
}

// One block's backward: dy [B, d] (gradient at y) becomes the gradient at x in
// place; dW1, dW2 accumulate. Live during it: one transient hidden (h).
void block_backward(const mlp_block& w, const tensor<2>& x, const tensor<2>& pre, tensor<2>& dy,
                    mlp_block& grad) {
  {
    tensor<2> g = pre;
    for (float& v : g) v = gelu(v);
    add_at_b(g, dy, grad.w2);  // dW2 += gelu(p)ᵀ · dy
  }
  tensor<2> dp = xt::zeros<float>(pre.shape());
  add_a_bt(dy, w.w2, dp);  // d gelu(p) = dy · W2ᵀ
  for (std::size_t i = 0; i < dp.size(); ++i) dp.data()[i] *= gelu_grad(pre.data()[i]);
  add_at_b(x, dp, grad.w1);  // dW1 += xᵀ · dp
  add_a_bt(dp, w.w1, dy);    // dx = dy + dp · W1ᵀ
}

}  // namespace

mlp_stack::mlp_stack(int layers, int width, int hidden, std::uint32_t seed) {
  const auto n = require_positive(layers, "layers");
  const auto d = require_positive(width, "width");
  const auto f = require_positive(hidden, "hidden");
  // The weights, and the gradients every use of a stack allocates beside them.
  require_bytes(count(2) * n * 2 * d * f * sizeof(float),
                {{"layers", layers}, {"width", width}, {"hidden", hidden}},
                "the stack's weights and gradients");
  rng gen(seed);
  for (std::size_t i = 0; i < n; ++i) {
    mlp_block b;
    b.w1 = random_normal<2>({d, f}, gen, 1.0f / std::sqrt(float(d)));
    b.w2 = random_normal<2>({f, d}, gen, 1.0f / std::sqrt(float(f) * float(n)));
    blocks.push_back(std::move(b));
  }
}

gradients::gradients(const mlp_stack& s) {
  for (const auto& b : s.blocks)
    blocks.push_back({xt::zeros<float>(b.w1.shape()), xt::zeros<float>(b.w2.shape())});
}

void gradients::zero() {
  for (auto& b : blocks) b.w1.fill(0), b.w2.fill(0);
}

policy policy::parse(const std::string& text) {
  if (text == "none") return none();
  if (text == "sqrt") return sqrt_n();
  auto after = [&](const std::string& prefix) -> std::string {
    if (text.rfind(prefix, 0) != 0) return "";
    std::string rest = text.substr(prefix.size());
    if (!rest.empty() && rest[0] == ':') rest = rest.substr(1);
    return rest.empty() ? " " : rest;
  };
  auto integer = [&](const std::string& s) {
    std::size_t used = 0;
    int v = 0;
    try {
      v = std::stoi(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    require(used == s.size() && used > 0, "policy", text,
            "none, sqrt, every:K or set:I,J,... with integers");
    return v;
  };
  if (auto rest = after("every"); !rest.empty()) return every(integer(rest));
  if (auto rest = after("set"); !rest.empty()) {
    std::vector<int> blocks;
    std::stringstream in(rest);
    for (std::string item; std::getline(in, item, ',');) blocks.push_back(integer(item));
    return at(blocks);
  }
  require(false, "policy", text, "none, sqrt, every:K or set:I,J,...");
  return {};
}

std::string policy::name() const {
  switch (what) {
    case kind::none:
      return "none";
    case kind::sqrt:
      return "sqrt";
    case kind::every:
      return "every:" + std::to_string(k);
    case kind::set: {
      std::string s = "set:";
      for (std::size_t i = 0; i < blocks.size(); ++i)
        s += (i ? "," : "") + std::to_string(blocks[i]);
      return s;
    }
  }
  return "?";
}

std::vector<int> checkpoints(const policy& p, int layers) {
  require_positive(layers, "layers");
  std::vector<int> c{0};
  int step = 0;
  switch (p.what) {
    case policy::kind::none:
      return c;
    case policy::kind::every:
      require(p.k > 0, "k", p.k, "a positive number of blocks per segment");
      step = p.k;
      break;
    case policy::kind::sqrt:
      step = static_cast<int>(std::ceil(std::sqrt(double(layers))));
      break;
    case policy::kind::set:
      for (int b : p.blocks) {
        // Named by the policy the caller passed ("set:9"), not by an internal name.
        require(b >= 0 && b < layers, "policy", p.name(), [&] {
          return "block indices in [0, " + std::to_string(layers) + ") (block " +
                 std::to_string(b) + " is not)";
        });
        c.push_back(b);
      }
      std::sort(c.begin(), c.end());
      c.erase(std::unique(c.begin(), c.end()), c.end());
      return c;
  }
  for (int b = step; b < layers; b += step) c.push_back(b);
  return c;
}

std::uint64_t peak_activation_bytes(const std::vector<int>& c, int layers, std::uint64_t batch,
                                    std::uint64_t width, std::uint64_t hidden) {
  const count a = count(4) * batch * width, h = count(4) * batch * hidden;
  const std::size_t m = c.size();
  count peak = 0;
  for (std::size_t j = 0; j < m; ++j) {
    const count length = (j + 1 < m ? c[j + 1] : layers) - c[j];
    const count held = j + 1 < m ? j + 1 : m;  // checkpoints alive
    peak = std::max(peak, (held + length) * a + (length + 1) * h);
  }
  return peak.value();
}

double step_flops(int layers, std::uint64_t batch, std::uint64_t width, std::uint64_t hidden) {
  const double b = double(batch), d = double(width), f = double(hidden);
  return (12.0 * b * d * f + 1000.0 * b * (d + f)) * layers;
}

double loss(const mlp_stack& s, const tensor<2>& x, const tensor<2>& target) {
  tensor<2> cur = x, pre;
  for (const auto& b : s.blocks) cur = block_forward(b, cur, pre);
  double sum = 0;
  for (std::size_t i = 0; i < cur.size(); ++i) {
    const double e = double(cur.data()[i]) - double(target.data()[i]);
    sum += 0.5 * e * e;
  }
  return sum;
}

step_result train_step(const mlp_stack& s, const tensor<2>& x, const tensor<2>& target,
                       const policy& p, gradients& grads, bool record_timeline) {
  const int n = static_cast<int>(s.blocks.size());
  require(x.dimension() == 2 && x.shape(1) == s.width(), "x", shape_text(x.shape()),
          [&] { return "[batch, " + std::to_string(s.width()) + "]"; });
  require(target.shape() == x.shape(), "target", shape_text(target.shape()),
          [&] { return "the shape of x, " + shape_text(x.shape()); });
  require(grads.blocks.size() == s.blocks.size(), "gradients", grads.blocks.size(),
          [&] { return "one per block, " + std::to_string(n); });
  // Activations at the peak (the formula above, for any policy at most that of
  // none) beside x, target and dL/dx_0; forward, recomputation and backward.
  const std::initializer_list<sized> sizes{{"layers", n},
                                           {"batch", static_cast<long long>(x.shape(0))},
                                           {"width", static_cast<long long>(s.width())},
                                           {"hidden", static_cast<long long>(s.hidden())}};
  require_bytes(count(peak_activation_bytes({0}, n, x.shape(0), s.width(), s.hidden())) +
                    count(3) * x.size() * sizeof(float),
                sizes, "a training step's activations");
  require_work(step_flops(n, x.shape(0), s.width(), s.hidden()), sizes, "a training step");

  step_result r;
  r.checkpoints = checkpoints(p, n);
  const auto& c = r.checkpoints;
  const int last_start = c.back();
  std::vector<char> is_checkpoint(std::size_t(n), 0);
  for (int b : c) is_checkpoint[std::size_t(b)] = 1;

  auto& tracker = memory::tracker();
  const bool was_recording = tracker.recording_timeline();
  if (record_timeline) tracker.record_timeline(true);
  {
    memory::peak_scope scope;
    const std::size_t base = scope.start_live_bytes();
    std::vector<tensor<2>> xs(std::size_t(n) + 1);
    std::vector<tensor<2>> pres(static_cast<std::size_t>(n));

    // Forward: keep checkpoint inputs; keep everything in the last segment.
    xs[0] = x;
    for (int i = 0; i < n; ++i) {
      const auto u = std::size_t(i);
      xs[u + 1] = block_forward(s.blocks[u], xs[u], pres[u]);
      if (i < last_start) {
        pres[u] = tensor<2>();
        if (!is_checkpoint[u]) xs[u] = tensor<2>();
      }
    }
    // Loss and its gradient, in place in x_n: dy = x_n − target.
    tensor<2> dy = std::move(xs[std::size_t(n)]);
    double sum = 0;
    for (std::size_t i = 0; i < dy.size(); ++i) {
      const float e = dy.data()[i] - target.data()[i];
      sum += 0.5 * double(e) * double(e);
      dy.data()[i] = e;
    }
    r.loss = sum;
    if (record_timeline && !tracker.timeline().empty())
      r.backward_start_ms = tracker.timeline().back().time_ms;

    // Backward, segment by segment from the last.
    for (std::size_t j = c.size(); j-- > 0;) {
      const int begin = c[j], end = j + 1 < c.size() ? c[j + 1] : n;
      if (begin != last_start) {  // re-run the segment's forward from its checkpoint
        for (int i = begin; i < end; ++i) {
          const auto u = std::size_t(i);
          if (i + 1 < end)
            xs[u + 1] = block_forward(s.blocks[u], xs[u], pres[u]);
          else
            pres[u] = matmul(xs[u], s.blocks[u].w1);  // the last block needs p only
          ++r.recomputed_blocks;
        }
      }
      for (int i = end; i-- > begin;) {
        const auto u = std::size_t(i);
        block_backward(s.blocks[u], xs[u], pres[u], dy, grads.blocks[u]);
        xs[u] = tensor<2>();
        pres[u] = tensor<2>();
      }
    }
    r.peak_bytes = scope.peak_bytes();
    r.input_grad = std::move(dy);
    if (record_timeline)
      for (const auto& e : tracker.timeline())
        r.timeline.push_back({e.time_ms, e.live_bytes - std::min(e.live_bytes, base)});
  }
  if (record_timeline) tracker.record_timeline(was_recording);
  return r;
}

}  // namespace memlab::checkpoint
