// Exercise 9 — activation checkpointing: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

namespace {

chain random_chain(std::size_t layers, std::size_t width, std::uint64_t seed) {
  lab::rng gen(seed);
  chain c{layers, width, std::vector<float>(layers * width), std::vector<float>(layers * width)};
  for (float& w : c.w) w = gen.uniform(0.5f, 1.5f);
  for (float& b : c.b) b = 0.1f * gen.normal();
  return c;
}

std::vector<float> random_input(std::size_t width, std::uint64_t seed) {
  lab::rng gen(seed);
  std::vector<float> x(width);
  gen.fill_normal(x);
  return x;
}

// Gradients first filled with NaN, so a gradient never written shows.
gradients nan_gradients(const chain& c) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  return {std::vector<float>(c.layers * c.width, nan), std::vector<float>(c.layers * c.width, nan)};
}

// The independent reference: the same chain in double, every activation kept.
void reference_gradients(const chain& c, const std::vector<float>& x, std::vector<double>& dw,
                         std::vector<double>& db) {
  const std::size_t n = c.layers, w = c.width;
  std::vector<std::vector<double>> acts(n + 1, std::vector<double>(w));
  for (std::size_t i = 0; i < w; ++i) acts[0][i] = x[i];
  for (std::size_t l = 0; l < n; ++l)
    for (std::size_t i = 0; i < w; ++i)
      acts[l + 1][i] = std::tanh(double{c.w[l * w + i]} * acts[l][i] + c.b[l * w + i]);
  dw.assign(n * w, 0);
  db.assign(n * w, 0);
  std::vector<double> dy = acts[n];  // L = ½ Σ y², dL/dy = y
  for (std::size_t l = n; l-- > 0;)
    for (std::size_t i = 0; i < w; ++i) {
      const double y = acts[l + 1][i];
      const double dz = dy[i] * (1 - y * y);
      dw[l * w + i] = dz * acts[l][i];
      db[l * w + i] = dz;
      dy[i] = dz * c.w[l * w + i];
    }
}

// Checks full against the double reference; true when they agree.
bool full_matches_reference(const chain& c, const std::vector<float>& x, const gradients& full) {
  std::vector<double> dw, db;
  reference_gradients(c, x, dw, db);
  INFO("backward_full against the double-precision reference, " << c.layers << " layers of width "
                                                                << c.width << " (dw[layer][i])");
  return CHECK_CLOSE_MATRIX("dw", full.dw, dw, c.width, 1e-5) &&
         CHECK_CLOSE_MATRIX("db", full.db, db, c.width, 1e-5);
}

}  // namespace

TEST_CASE("sqrt_segment is the rounded-up square root") {
  const struct {
    std::size_t layers, expected;
  } cases[] = {{1, 1}, {2, 2}, {4, 2}, {10, 4}, {64, 8}, {65, 9}, {100, 10}};
  for (const auto& c : cases)
    CHECK_MESSAGE(sqrt_segment(c.layers) == c.expected,
                  "sqrt_segment(" << c.layers << ") = " << sqrt_segment(c.layers) << ", expected "
                                  << c.expected);
}

TEST_CASE("backward_full matches an independent double-precision backward pass") {
  for (std::size_t layers : {1, 3, 10}) {
    const chain c = random_chain(layers, 8, 20 + layers);
    const std::vector<float> x = random_input(8, 30 + layers);
    gradients g = nan_gradients(c);
    backward_full(c, x, g);
    full_matches_reference(c, x, g);
  }
}

TEST_CASE("checkpointed gradients are identical to storing everything, for every segment length") {
  // Recomputation replays the same float operations from the same inputs: the
  // gradients must agree bit for bit, not just closely.
  const std::size_t layers = 20, width = 16;
  const chain c = random_chain(layers, width, 40);
  const std::vector<float> x = random_input(width, 41);
  gradients full = nan_gradients(c);
  backward_full(c, x, full);
  if (!full_matches_reference(c, x, full)) return;
  for (std::size_t segment : {1, 2, 3, 5, 7, 20, 25}) {
    gradients g = nan_gradients(c);
    backward_checkpointed(c, x, segment, g);
    INFO(layers << " layers, segments of " << segment);
    CHECK_CLOSE_MATRIX("dw", g.dw, full.dw, width, 0.0);
    CHECK_CLOSE_MATRIX("db", g.db, full.db, width, 0.0);
  }
}

TEST_CASE("√n checkpointing keeps activation memory within (⌈n/s⌉ + s + 6) vectors") {
  // 64 layers of width 256 (1 KiB a vector), segments of 8: storing everything
  // takes 65 vectors; 8 checkpoints and one segment's 9 activations, plus a
  // few working vectors, stay within 22.
  const std::size_t layers = 64, width = 256, segment = 8;
  const std::size_t vector_bytes = width * sizeof(float);
  const chain c = random_chain(layers, width, 50);
  const std::vector<float> x = random_input(width, 51);
  gradients full = nan_gradients(c), ckpt = nan_gradients(c);
  std::size_t peak_full = 0, peak_ckpt = 0;
  {
    lab::heap_scope scope;
    backward_full(c, x, full);
    peak_full = scope.peak_bytes();
  }
  {
    lab::heap_scope scope;
    backward_checkpointed(c, x, segment, ckpt);
    peak_ckpt = scope.peak_bytes();
  }
  CHECK_MESSAGE(peak_full >= (layers + 1) * vector_bytes,
                "backward_full peaks at "
                    << lab::testing::bytes(peak_full) << ", expected at least the " << layers + 1
                    << " activations, " << lab::testing::bytes((layers + 1) * vector_bytes));
  const std::size_t bound = ((layers + segment - 1) / segment + segment + 6) * vector_bytes;
  CHECK_MESSAGE(peak_ckpt <= bound, "backward_checkpointed with segments of "
                                        << segment << " peaks at " << lab::testing::bytes(peak_ckpt)
                                        << ", expected at most " << lab::testing::bytes(bound)
                                        << " (backward_full: " << lab::testing::bytes(peak_full)
                                        << ")");
  CHECK_CLOSE_MATRIX("dw (checkpointed against full)", ckpt.dw, full.dw, width, 0.0);
}

TEST_CASE("recomputation costs at most one extra forward per layer") {
  const std::size_t layers = 30, width = 4;
  const chain c = random_chain(layers, width, 60);
  const std::vector<float> x = random_input(width, 61);
  gradients g = nan_gradients(c);
  const std::size_t root = sqrt_segment(layers) > 0 ? sqrt_segment(layers) : 6;
  for (std::size_t segment : {std::size_t{1}, std::size_t{5}, root}) {
    forward_calls = 0;
    backward_checkpointed(c, x, segment, g);
    INFO(layers << " layers, segments of " << segment);
    CHECK_MESSAGE(forward_calls > layers,
                  "layer_forward ran " << forward_calls << " times: the forward pass alone takes "
                                       << layers << ", and backward recomputes");
    CHECK_MESSAGE(forward_calls <= 2 * layers,
                  "layer_forward ran "
                      << forward_calls << " times, expected at most " << 2 * layers
                      << " (the forward pass, then at most one recomputation per layer)");
  }
}

// The page's chart once the tests pass: backward_checkpointed with √n segments
// by depth (width 1024): the activation heap grows like √layers.
MEMLAB_BENCHMARK("backward_checkpointed, segments of sqrt(layers)", "layers", 16, 64, 256, 1024) {
  const chain c = random_chain(n, 1024, 70);
  const std::vector<float> x = random_input(1024, 71);
  gradients g = nan_gradients(c);
  lab::bench::report(n,
                     lab::bench::measure([&] { backward_checkpointed(c, x, sqrt_segment(n), g); }));
}
