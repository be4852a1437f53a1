// mutant: backward_full starts from dL/dy = x_{n-1}, the last layer's input, instead of its output
// x_n
// expect: backward_full against the double-precision reference, 1 layers of width 8

#include <algorithm>
#include <cmath>
#include <vector>

#include "memlab_lab.hpp"

// A chain of `layers` layers over vectors of `width` floats:
//   y = tanh(w_l ⊙ x + b_l)           (elementwise; w_l, b_l: width floats each)
// and the loss L = ½ Σ y_n² of the last output (so dL/dy_n = y_n).
struct chain {
  std::size_t layers, width;
  std::vector<float> w, b;  // [layers][width]
};

// Gradients of L: dw and db, [layers][width] each (sized by the caller).
struct gradients {
  std::vector<float> dw, db;
};

// Counts layer_forward calls, so the tests can see the recomputation.
inline std::size_t forward_calls = 0;

// y = tanh(w_l ⊙ x + b_l). Given: do not change.
void layer_forward(const chain& c, std::size_t l, lab::span<const float> x, lab::span<float> y) {
  ++forward_calls;
  for (std::size_t i = 0; i < c.width; ++i)
    y[i] = std::tanh(c.w[l * c.width + i] * x[i] + c.b[l * c.width + i]);
}

// Backward of layer l from its input x, its output y and dL/dy: writes dL/dx
// into dx and the layer's dw, db into g. Given: do not change.
//   dz = dy ⊙ (1 - y²),  dw_l = dz ⊙ x,  db_l = dz,  dx = dz ⊙ w_l
void layer_backward(const chain& c, std::size_t l, lab::span<const float> x,
                    lab::span<const float> y, lab::span<const float> dy, lab::span<float> dx,
                    gradients& g) {
  for (std::size_t i = 0; i < c.width; ++i) {
    const float dz = dy[i] * (1.0f - y[i] * y[i]);
    g.dw[l * c.width + i] = dz * x[i];
    g.db[l * c.width + i] = dz;
    dx[i] = dz * c.w[l * c.width + i];
  }
}

std::size_t sqrt_segment(std::size_t layers) {
  std::size_t s = 1;
  while (s * s < layers) ++s;
  return s;
}

void backward_full(const chain& c, lab::span<const float> x, gradients& g) {
  const std::size_t n = c.layers, w = c.width;
  std::vector<float> acts((n + 1) * w);  // x_0 .. x_n
  std::copy(x.begin(), x.end(), acts.begin());
  for (std::size_t l = 0; l < n; ++l)
    layer_forward(c, l, {acts.data() + l * w, w}, {acts.data() + (l + 1) * w, w});
  std::vector<float> dy(acts.end() - 2 * w, acts.end() - w), dx(w);  // dL/dx_n
  for (std::size_t l = n; l-- > 0;) {
    layer_backward(c, l, {acts.data() + l * w, w}, {acts.data() + (l + 1) * w, w}, dy, dx, g);
    std::swap(dy, dx);
  }
}

void backward_checkpointed(const chain& c, lab::span<const float> x, std::size_t segment,
                           gradients& g) {
  const std::size_t n = c.layers, w = c.width;
  const std::size_t segments = (n + segment - 1) / segment;
  std::vector<float> checkpoints(segments * w);  // the input of each segment
  std::vector<float> a(w), b(w);
  std::copy(x.begin(), x.end(), a.begin());
  for (std::size_t l = 0; l < n; ++l) {
    if (l % segment == 0) std::copy(a.begin(), a.end(), checkpoints.begin() + l / segment * w);
    layer_forward(c, l, a, b);
    std::swap(a, b);
  }
  std::vector<float> dy = a, dx(w);            // dL/dx_n = x_n
  std::vector<float> acts((segment + 1) * w);  // one segment's x_first .. x_last+1
  for (std::size_t s = segments; s-- > 0;) {
    const std::size_t first = s * segment, last = std::min(n, first + segment);
    std::copy(checkpoints.begin() + s * w, checkpoints.begin() + (s + 1) * w, acts.begin());
    for (std::size_t l = first; l < last; ++l)
      layer_forward(c, l, {acts.data() + (l - first) * w, w},
                    {acts.data() + (l - first + 1) * w, w});
    for (std::size_t l = last; l-- > first;) {
      layer_backward(c, l, {acts.data() + (l - first) * w, w},
                     {acts.data() + (l - first + 1) * w, w}, dy, dx, g);
      std::swap(dy, dx);
    }
  }
}
