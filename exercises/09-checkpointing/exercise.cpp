// Exercise 9 — activation checkpointing: keep √n activations, recompute the rest.
// Read README.md first. Fill in the TODOs; test.cpp checks them.
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

// ---- your part -------------------------------------------------------------------

// ⌈√layers⌉: the segment length that balances the checkpoints kept (layers /
// segment) against the activations recomputed inside a segment (segment).
std::size_t sqrt_segment(std::size_t layers) {
  (void)layers;
  return 0;  // TODO
}

// Backpropagation storing every activation: x_0 = x, x_{l+1} = layer l (x_l),
// all layers + 1 vectors kept, then layer_backward from the last layer to the
// first, starting from dL/dy = x_layers. Activation memory O(layers · width).
void backward_full(const chain& c, lab::span<const float> x, gradients& g) {
  // TODO
  (void)c, (void)x, (void)g;
}

// The same gradients, bit for bit, keeping only the input of every segment of
// `segment` layers (a checkpoint) during the forward pass. Backward walks the
// segments from the last: recompute the activations inside the segment from
// its checkpoint, then run the segment's layer_backward calls.
// Activation memory O((layers / segment + segment) · width); with segment =
// sqrt_segment(layers) that is O(√layers · width), for at most one extra
// forward per layer.
void backward_checkpointed(const chain& c, lab::span<const float> x, std::size_t segment,
                           gradients& g) {
  // TODO
  (void)c, (void)x, (void)segment, (void)g;
}
