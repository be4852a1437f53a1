// quant/matrix.hpp — one weight matrix in any of memlab's formats,
// chosen by name: the API to quantize a model's [rows, cols] weights with.
//
//   auto wq = quant::quantized_matrix::quantize(w, quant::parse_format("q4_0"));
//   tensor<1> y = wq.matvec(x);        // y [rows] = W [rows, cols] · x [cols]
//   wq.bytes();                        // exact tracked storage
//
// Formats (names as on the command line and in the page):
//   fp32, fp16                        unquantized baselines (32 and 16 bits)
//   int8_sym, int8_asym,              affine integers (quant/affine.hpp) with a
//   int4_sym, int4_asym               granularity: tensor | channel | group G
//   q8_0, q4_0, q4_1                  ggml's blocks of 32 (quant/ggml_blocks.hpp)
//   nf4, nf4_dq                       QLoRA's NormalFloat in blocks of 64, without
//                                     and with double quantization (quant/nf4.hpp)
// matvec() runs the format's kernel (quant/matvec.hpp); matvec_reference() its
// plain reference. Costs: those of the underlying format.
#pragma once

#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "base/memory.hpp"
#include "quant/affine.hpp"
#include "quant/fp16.hpp"
#include "quant/ggml_blocks.hpp"
#include "quant/nf4.hpp"

namespace memlab::quant {

enum class scheme {
  fp32,
  fp16,
  int8_sym,
  int8_asym,
  int4_sym,
  int4_asym,
  q8_0,
  q4_0,
  q4_1,
  nf4,
  nf4_dq
};

struct format {
  scheme kind = scheme::q4_0;
  granularity scope = granularity::group;  // int8_* / int4_* only
  std::size_t group = 128;                 // int8_* / int4_* with granularity::group
  std::size_t block = nf4::default_block;  // nf4 / nf4_dq
};

// Every format name, in the order of `scheme`.
const std::vector<std::string>& format_names();
const char* name(scheme s);
// The format of that name with default settings; throws memlab::invalid_argument
// for an unknown name: "format = q3_0: expected one of fp32, fp16, ...".
format parse_format(const std::string& name);
bool is_affine(scheme s);
// The name plus the settings that matter: "int4_asym group 128", "q4_0", "nf4_dq block 64".
std::string describe(const format& f);

class quantized_matrix {
 public:
  // Quantizes w [rows, cols]; throws on bad input (see each format's header).
  static quantized_matrix quantize(const tensor<2>& w, const format& f);

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  const format& fmt() const { return format_; }
  std::size_t bytes() const;       // exact storage, all of it tracked
  double bits_per_weight() const;  // 8 · bytes() / (rows · cols)

  tensor<2> dequantize() const;                // ŵ [rows, cols]
  tensor<1> matvec(const tensor<1>& x) const;  // the format's kernel
  // The plain reference: ggml's generic loops for q8_0/q4_0/q4_1 (on the same
  // Q8_0 activations), otherwise the double-precision product of dequantize().
  tensor<1> matvec_reference(const tensor<1>& x) const;

 private:
  using storage = std::variant<tensor<2>, fp16::fp16_matrix, affine_matrix, ggml::q8_0_matrix,
                               ggml::q4_0_matrix, ggml::q4_1_matrix, nf4::nf4_matrix>;
  quantized_matrix(std::size_t rows, std::size_t cols, const format& f, storage data)
      : rows_(rows), cols_(cols), format_(f), data_(std::move(data)) {}

  std::size_t rows_ = 0;
  std::size_t cols_ = 0;
  format format_;
  storage data_;
};

}  // namespace memlab::quant
