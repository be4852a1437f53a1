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
  } cases[] = {{1, 1},  {2, 2},  {3, 2},   {4, 2},    {9, 3},          {10, 4},
               {64, 8}, {65, 9}, {99, 10}, {100, 10}, {1000000, 1000}, {1000001, 1001}};
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
    CHECK_FINITE("dw", g.dw, width,
                 "a gradient never written (the test fills dw with NaN first): the backward of "
                 "some layers never ran (a segment skipped: the first, or the last, shorter one?)");
    CHECK_CLOSE_MATRIX("dw", g.dw, full.dw, width, 0.0);
    CHECK_CLOSE_MATRIX("db", g.db, full.db, width, 0.0);
  }
}

TEST_CASE("checkpointing keeps activation memory at ⌈n/s⌉ + s + 1 vectors, for every s") {
  // 64 layers of width 256 (1 KiB a vector). Storing everything takes 65
  // vectors. Segments of s keep ⌈64/s⌉ checkpoints and one segment's s + 1
  // activations, plus a few working vectors (at most 5 here). And as s changes,
  // the peak changes as that count does (within 2 vectors): from segments of 8
  // (8 + 9) to segments of 32 (2 + 33) it grows by 18 vectors.
  const std::size_t layers = 64, width = 256;
  const std::size_t vector_bytes = width * sizeof(float);
  const chain c = random_chain(layers, width, 50);
  const std::vector<float> x = random_input(width, 51);
  gradients full = nan_gradients(c);
  std::size_t peak_full = 0;
  {
    lab::heap_scope scope;
    backward_full(c, x, full);
    peak_full = scope.peak_bytes();
  }
  CHECK_MESSAGE(peak_full >= (layers + 1) * vector_bytes,
                "backward_full peaks at "
                    << lab::testing::bytes(peak_full) << ", expected at least the " << layers + 1
                    << " activations, " << lab::testing::bytes((layers + 1) * vector_bytes));
  const std::size_t segments[] = {4, 8, 16, 32};
  std::size_t kept[4], peak[4];  // ⌈n/s⌉ + s + 1 vectors; the peak measured
  for (int i = 0; i < 4; ++i) {
    const std::size_t s = segments[i];
    kept[i] = (layers + s - 1) / s + s + 1;
    gradients ckpt = nan_gradients(c);
    {
      lab::heap_scope scope;
      backward_checkpointed(c, x, s, ckpt);
      peak[i] = scope.peak_bytes();
    }
    INFO("segments of " << s << ": " << (layers + s - 1) / s << " checkpoints + " << s + 1
                        << " activations = " << kept[i] << " vectors of "
                        << lab::testing::bytes(vector_bytes));
    CHECK_MESSAGE(peak[i] <= (kept[i] + 5) * vector_bytes,
                  "backward_checkpointed peaks at "
                      << lab::testing::bytes(peak[i]) << ", expected at most "
                      << lab::testing::bytes((kept[i] + 5) * vector_bytes)
                      << " (backward_full: " << lab::testing::bytes(peak_full) << ")");
    CHECK_CLOSE_MATRIX("dw (checkpointed against full)", ckpt.dw, full.dw, width, 0.0);
  }
  // the peak above what is kept, in vectors, against that at segments of 8
  const auto above = [&](int i) {
    return static_cast<double>(peak[i]) / vector_bytes - static_cast<double>(kept[i]);
  };
  for (int i : {0, 2, 3}) {
    const double drift = above(i) - above(1);
    CHECK_MESSAGE(
        std::fabs(drift) <= 2,
        "from segments of 8 to segments of "
            << segments[i] << " the peak went from " << lab::testing::bytes(peak[1]) << " to "
            << lab::testing::bytes(peak[i]) << ": " << lab::testing::number(std::fabs(drift), 3)
            << " vectors off the change of ⌈n/s⌉ + s + 1 (" << kept[1] << " to " << kept[i]
            << " vectors). Is the segment argument what sets the checkpoints kept?");
  }
}

TEST_CASE("recomputation costs at most one extra forward per layer") {
  // The forward pass runs every layer once; backward recomputes each segment
  // from its checkpoint: all its layers, or all but the last (whose output is
  // the next checkpoint). So n + n - ⌈n/s⌉ <= calls <= 2n.
  const std::size_t layers = 30, width = 4;
  const chain c = random_chain(layers, width, 60);
  const std::vector<float> x = random_input(width, 61);
  gradients g = nan_gradients(c);
  const std::size_t root = sqrt_segment(layers) > 0 ? sqrt_segment(layers) : 6;
  for (std::size_t segment : {std::size_t{1}, std::size_t{5}, std::size_t{7}, root, layers}) {
    forward_calls = 0;
    backward_checkpointed(c, x, segment, g);
    const std::size_t least = 2 * layers - (layers + segment - 1) / segment;
    INFO(layers << " layers, segments of " << segment);
    CHECK_MESSAGE(forward_calls >= least,
                  "layer_forward ran " << forward_calls << " times, expected at least " << least
                                       << ": the forward pass takes " << layers
                                       << ", and backward recomputes each segment but its last "
                                          "layer from the segment's checkpoint");
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
