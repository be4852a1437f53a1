#include "quant/matrix.hpp"

#include <type_traits>

#include "base/error.hpp"
#include "quant/matvec.hpp"

namespace memlab::quant {
namespace {

template <class... F>
struct overloaded : F... {
  using F::operator()...;
};
template <class... F>
overloaded(F...) -> overloaded<F...>;

affine_format affine_of(const format& f) {
  affine_format a;
  a.bits = (f.kind == scheme::int8_sym || f.kind == scheme::int8_asym) ? 8 : 4;
  a.symmetric = f.kind == scheme::int8_sym || f.kind == scheme::int4_sym;
  a.scope = f.scope;
  a.group = f.group;
  return a;
}

}  // namespace

const std::vector<std::string>& format_names() {
  static const std::vector<std::string> names = {"fp32",     "fp16",      "int8_sym", "int8_asym",
                                                 "int4_sym", "int4_asym", "q8_0",     "q4_0",
                                                 "q4_1",     "nf4",       "nf4_dq"};
  return names;
}

const char* name(scheme s) { return format_names()[static_cast<std::size_t>(s)].c_str(); }

format parse_format(const std::string& text) {
  const auto& names = format_names();
  for (std::size_t i = 0; i < names.size(); ++i)
    if (names[i] == text) {
      format f;
      f.kind = static_cast<scheme>(i);
      return f;
    }
  std::string all;
  for (const auto& n : names) all += (all.empty() ? "" : ", ") + n;
  require(false, "format", text, "one of " + all);
  return {};
}

bool is_affine(scheme s) {
  return s == scheme::int8_sym || s == scheme::int8_asym || s == scheme::int4_sym ||
         s == scheme::int4_asym;
}

std::string describe(const format& f) {
  std::string text = name(f.kind);
  if (is_affine(f.kind)) {
    text += std::string(" ") + name(f.scope);
    if (f.scope == granularity::group) text += " " + std::to_string(f.group);
  } else if (f.kind == scheme::nf4 || f.kind == scheme::nf4_dq) {
    text += " block " + std::to_string(f.block);
  }
  return text;
}

quantized_matrix quantized_matrix::quantize(const tensor<2>& w, const format& f) {
  check_weights(w);
  const std::size_t rows = w.shape(0), cols = w.shape(1);
  switch (f.kind) {
    case scheme::fp32:
      return {rows, cols, f, tensor<2>(w)};
    case scheme::fp16:
      return {rows, cols, f, fp16::quantize(w)};
    case scheme::int8_sym:
    case scheme::int8_asym:
    case scheme::int4_sym:
    case scheme::int4_asym:
      return {rows, cols, f, quantize_affine(w, affine_of(f))};
    case scheme::q8_0:
      return {rows, cols, f, ggml::quantize_q8_0(w)};
    case scheme::q4_0:
      return {rows, cols, f, ggml::quantize_q4_0(w)};
    case scheme::q4_1:
      return {rows, cols, f, ggml::quantize_q4_1(w)};
    case scheme::nf4:
      return {rows, cols, f, nf4::quantize(w, f.block, false)};
    case scheme::nf4_dq:
      return {rows, cols, f, nf4::quantize(w, f.block, true)};
  }
  require(false, "format", static_cast<int>(f.kind), "a known scheme");
  return {0, 0, f, tensor<2>()};
}

std::size_t quantized_matrix::bytes() const {
  return std::visit(overloaded{[](const tensor<2>& w) { return w.size() * sizeof(float); },
                               [](const auto& m) { return m.bytes(); }},
                    data_);
}

double quantized_matrix::bits_per_weight() const {
  return 8.0 * static_cast<double>(bytes()) / static_cast<double>(rows_ * cols_);
}

tensor<2> quantized_matrix::dequantize() const {
  return std::visit(overloaded{[](const tensor<2>& w) { return tensor<2>(w); },
                               [](const fp16::fp16_matrix& m) { return fp16::dequantize(m); },
                               [](const affine_matrix& m) { return quant::dequantize(m); },
                               [](const nf4::nf4_matrix& m) { return nf4::dequantize(m); },
                               [](const auto& m) { return ggml::dequantize(m); }},
                    data_);
}

tensor<1> quantized_matrix::matvec(const tensor<1>& x) const {
  return std::visit(overloaded{[&](const tensor<2>& w) { return qmatvec::fp32(w, x); },
                               [&](const fp16::fp16_matrix& m) { return qmatvec::fp16(m, x); },
                               [&](const affine_matrix& m) { return qmatvec::affine(m, x); },
                               [&](const ggml::q8_0_matrix& m) { return qmatvec::q8_0(m, x); },
                               [&](const ggml::q4_0_matrix& m) { return qmatvec::q4_0(m, x); },
                               [&](const ggml::q4_1_matrix& m) { return qmatvec::q4_1(m, x); },
                               [&](const nf4::nf4_matrix& m) { return qmatvec::nf4(m, x); }},
                    data_);
}

tensor<1> quantized_matrix::matvec_reference(const tensor<1>& x) const {
  return std::visit(
      overloaded{[&](const ggml::q8_0_matrix& m) {
                   return qmatvec::q8_0_reference(m, qmatvec::quantize_activations(x));
                 },
                 [&](const ggml::q4_0_matrix& m) {
                   return qmatvec::q4_0_reference(m, qmatvec::quantize_activations(x));
                 },
                 [&](const ggml::q4_1_matrix& m) {
                   return qmatvec::q4_1_reference(m, qmatvec::quantize_activations(x));
                 },
                 [&](const auto&) { return qmatvec::fp32_reference(dequantize(), x); }},
      data_);
}

}  // namespace memlab::quant
