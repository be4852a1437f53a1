// quant/experiment.hpp — the quantization experiments, each one function
// returning its figures (printed by memlab-bench quant, graphed by the page).
//
// run_quant: quantize seeded weights W [rows, cols] to one format, and report the
//   exact storage (tracked bytes, bits per weight), the weight error, and the
//   matrix-vector product y = W x against the fp32 one on the same W and x:
//   times, and how much quantization moved y.
// run_quantized_gpt: the tiny GPT with its linear weights in one format against
//   the same model in fp32: weight bytes, how far the logits move and how often
//   the next token (argmax) stays the same over a text read token by token, and
//   decoding speed with a KV cache (fewer weight bytes to stream per token).
// run_quant_round_trip: n seeded weights (one row) quantized to one format and
//   dequantized back, timed together: what the lab's Q8_0 and NF4 exercises
//   benchmark, for the page to chart the learner's code against.
// run_quant_grid: one row of weights and the values int4 and NF4 can represent
//   for it (one scale for the whole row), with how often each code is used:
//   the picture of why NF4 exists.
//
// Weights: "gaussian" N(0, 0.02²), as a trained LLM layer roughly is, or
// "heavy": Student's t with 3 degrees of freedom scaled to the same standard
// deviation, whose tails put a few weights at 10-30 σ, like the outliers of
// real LLM weights that break per-tensor scales.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/measure.hpp"
#include "model/gpt.hpp"
#include "quant/affine.hpp"

namespace memlab::experiments {

// Sizes are ints so that a negative value from a command line or from JS is
// reported as such, not wrapped around.
struct quant_config {
  int rows = 1024;
  int cols = 1024;
  std::string format = "q4_0";            // a name from quant::format_names()
  std::string granularity = "group";      // tensor | channel | group (int8_* / int4_*)
  int group = 128;                        // values per scale with granularity group
  std::string distribution = "gaussian";  // gaussian | heavy
  bool run_matvec = true;                 // time the products (else only storage and error)
  int repeats = 5;                        // timed matrix-vector products (median)
  std::uint32_t seed = 1;
};

struct quant_figures {
  quant_config config;
  std::string label;             // e.g. "int4_asym group 128"
  std::size_t weight_bytes = 0;  // tracked bytes of the quantized weights
  std::size_t fp32_bytes = 0;    // 4 · rows · cols
  double bits_per_weight = 0;    // 8 · weight_bytes / (rows · cols)
  quant::error_figures error;    // W against dequantize(quantize(W))
  run_figures quantize;          // time (one run after a warm-up) and tracked peak of quantizing W
  run_figures matvec;            // y = W x with the format's kernel
  run_figures fp32_matvec;       // the fp32 baseline on the same W and x
  double speedup = 0;            // fp32_matvec.median_ms / matvec.median_ms
  double output_rel_error = 0;   // ||y - y_fp32|| / ||y_fp32||
  double kernel_rel_diff = 0;    // max_r |y[r] - y_ref[r]| / max_r Σ_c |ŵ[r,c] x[c]|:
                                 // the kernel against its plain reference
};

quant_figures run_quant(const quant_config& config);

struct quantized_gpt_config {
  gpt::config model;
  std::uint32_t model_seed = 1;
  std::string format = "q8_0";  // a name from quant::format_names(), default settings
  // Read token by token by both models (teacher forcing): every position's
  // logits are compared. Bytes, so any text.
  std::string text =
      "The quick brown fox jumps over the lazy dog. A KV cache keeps keys and values.";
  int tokens = 64;  // generated with a KV cache to time decoding
};

struct quantized_gpt_figures {
  quantized_gpt_config config;
  std::size_t fp32_weight_bytes = 0;
  std::size_t weight_bytes = 0;       // embeddings and norms fp32, linear layers quantized
  double max_logit_diff = 0;          // max |logit - fp32 logit| over all positions and tokens
  double mean_logit_diff = 0;         // mean of |logit - fp32 logit|
  double logit_scale = 0;             // mean |fp32 logit|, to read the two above against
  double next_token_agreement = 0;    // share of positions where both argmaxes agree
  double fp32_tokens_per_second = 0;  // decoding with a KV cache
  double tokens_per_second = 0;
};

quantized_gpt_figures run_quantized_gpt(const quantized_gpt_config& config);

struct round_trip_figures {
  run_figures run;                  // quantize + dequantize: median time and tracked peak of one
  std::size_t quantized_bytes = 0;  // the quantized storage (in the peak)
  std::size_t output_bytes = 0;     // ŵ, 4 · n (in the peak)
};

// format: a name from quant::format_names() with its default settings; n: the
// row's length, a multiple of the format's block (named cols in that error);
// repeats: timed runs after a warm-up.
round_trip_figures run_quant_round_trip(const std::string& format, int n, int repeats,
                                        std::uint32_t seed);

struct quant_grid_config {
  int cols = 4096;
  std::string distribution = "gaussian";
  std::uint32_t seed = 1;
};

struct quant_grid_figures {
  quant_grid_config config;
  std::vector<float> row;                // the weights [cols]
  std::vector<float> int4_grid;          // the 15 values int4_sym (per row) can represent
  std::vector<float> nf4_grid;           // the 16 values NF4 (one block = the row) can represent
  std::vector<std::size_t> int4_counts;  // weights per int4 level [15]
  std::vector<std::size_t> nf4_counts;   // weights per NF4 code [16]
  double int4_rmse = 0;
  double nf4_rmse = 0;
  double int4_entropy_bits = 0;  // entropy of the code distribution: the information
  double nf4_entropy_bits = 0;   // each 4-bit code really carries (at most 4)
};

quant_grid_figures run_quant_grid(const quant_grid_config& config);

// The raw bytes of ggml blocks (format q8_0, q4_0 or q4_1) quantizing one row
// of values (a multiple of 32), laid out as ggml stores them: to show and test
// the layout from JS. Throws memlab::invalid_argument naming a bad format,
// length or value.
std::vector<std::uint8_t> ggml_block_bytes(const std::string& format,
                                           const std::vector<float>& row);

// The seeded weights the experiments use: [rows, cols] of the named distribution.
tensor<2> quant_weights(std::size_t rows, std::size_t cols, const std::string& distribution,
                        std::uint32_t seed);

}  // namespace memlab::experiments
