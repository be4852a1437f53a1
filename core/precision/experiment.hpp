// precision/experiment.hpp — the numerical effect of fp16 and bf16, as figures.
//
// run_precision: eager attention (precision::attention) and a matmul, each in
// six arithmetics, against float64 computed from the same fp32 inputs:
//
//   fp32                      storage fp32, sums fp32        (the baseline)
//   bf16, fp32 sums           storage bf16, sums fp32        (mixed precision)
//   fp16, fp32 sums           storage fp16, sums fp32        (mixed precision)
//   fp16, fp32 sums, scale first   the same with (Q · scale) Kᵀ
//   bf16, bf16 sums           everything bf16                (what nobody does)
//   fp16, fp16 sums           everything fp16
//
// Attention inputs: q, k ~ N(0, logit_scale) per entry, so that the logits
// q·k / sqrt(head_dim) have standard deviation logit_scale, and the unscaled
// q·k reach sqrt(head_dim) times more — past fp16's 65504 when logit_scale is a
// few thousand / sqrt(head_dim). v ~ N(0, 1). Matmul: a [64, seq] and b [seq, 64]
// uniform in [0, 1) — positive terms, like probabilities times values, so that
// the sums grow with seq and a low-precision accumulator stalls.
// Errors: max |x - x64| and the relative Frobenius error |x - x64|_F / |x64|_F,
// over the finite outputs; NaN (JSON null) when any output is not finite, and
// the count of those. Time is the emulation's (see precision.hpp); the tracked
// peak is exact and halves with 2-byte storage.
//
// run_rounding: a histogram of the relative rounding error (round(x) - x) / x of
// fp16 and bf16 on normal draws, in units of each format's u = 2^-p: it lies in
// [-1, 1] for every x in the format's normal range (x beyond it counted apart).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/measure.hpp"

namespace memlab::experiments {

struct precision_config {
  int seq = 256;
  int head_dim = 64;
  int heads = 1;
  double logit_scale = 1;  // standard deviation of q·k / sqrt(head_dim)
  bool causal = false;
  int repeats = 1;
  std::uint32_t seed = 1;
};

struct precision_row {
  std::string label;       // "fp16, fp32 sums, scale first"
  std::string storage;     // fp32 | fp16 | bf16
  std::string accumulate;  // fp32 | fp16 | bf16
  bool scale_first = false;
  run_figures attention;          // time of the emulation, tracked peak (exact)
  double attention_max_abs = 0;   // NaN when any output is not finite
  double attention_relative = 0;  // |O - O64|_F / |O64|_F; NaN likewise
  std::size_t attention_nonfinite = 0;
  double matmul_max_abs = 0;
  double matmul_relative = 0;
  std::size_t matmul_nonfinite = 0;
  std::size_t input_bytes = 0;  // Q, K and V as stored
};

struct precision_figures {
  precision_config config;
  double max_abs_logit = 0;  // max |q·k| before scaling (fp16 overflows above 65504)
  std::vector<precision_row> rows;
};

precision_figures run_precision(const precision_config& config);

struct rounding_config {
  int values = 100000;
  int bins = 40;
  double stddev = 1;  // of the normal draws
  std::uint32_t seed = 1;
};

struct rounding_histogram {
  std::string format;          // fp16 | bf16
  double unit_roundoff = 0;    // u = 2^-p
  std::vector<double> counts;  // bins over [-1, 1] of (round(x) - x) / x / u
  double max_error_in_u = 0;   // max |round(x) - x| / |x| / u over the counted x
  double rms_error_in_u = 0;
  std::size_t outside_normal_range = 0;  // x below the smallest normal or past the largest finite
};

struct rounding_figures {
  rounding_config config;
  std::vector<rounding_histogram> formats;  // fp16, bf16
};

rounding_figures run_rounding(const rounding_config& config);

}  // namespace memlab::experiments
