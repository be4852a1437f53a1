#include "quant/matvec.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/error.hpp"
#include "base/kernels.hpp"
#include "quant/kernels.hpp"

namespace memlab::qmatvec {
namespace {

using ggml::block_q4_0;
using ggml::block_q4_1;
using ggml::block_q8_0;
using qkernels::fvec;
constexpr std::size_t qk = ggml::block_values;

void check_x(const tensor<1>& x, std::size_t cols) {
  require(x.size() == cols, "x.size", x.size(),
          "cols = " + std::to_string(cols) + " of the weights");
  quant::check_values(x.data(), x.size(), "x");
}

tensor<1> output(std::size_t rows) { return tensor<1>::from_shape({rows}); }

// x as Q8_0 for the block kernels: per block of 32 values the codes, in the type
// and order the format's kernel takes (qkernels::act: int8 as stored, int16 in
// wasm, where the Q4 kernels want them rearranged), the scale as fp32 (converted
// once, not once per row) and, for the Q4 formats, the sum of the codes. The
// same values as quantize_activations, laid out for the products.
struct q8_activations {
  buffer<qkernels::act> q;  // [cols]
  buffer<float> d;          // [cols / 32]
  buffer<float> sum;        // [cols / 32] Σ_j q[b, j], exact; empty for Q8_0
};

enum class kernel { q8, q4 };

q8_activations activations(const tensor<1>& x, kernel k) {
  const std::size_t nb = x.size() / qk;
  q8_activations a{buffer<qkernels::act>(x.size()), buffer<float>(nb),
                   buffer<float>(k == kernel::q4 ? nb : 0)};
  for (std::size_t b = 0; b < nb; ++b) {
    block_q8_0 block;
    ggml::quantize_row_q8_0_ref(x.data() + b * qk, &block, qk);
    a.d[b] = fp16::to_float(block.d);
    if (k == kernel::q8) {
      std::copy_n(block.qs, qk, a.q.data() + b * qk);
      continue;
    }
    qkernels::arrange_for_q4(block.qs, a.q.data() + b * qk);
    int sum = 0;
    for (std::size_t j = 0; j < qk; ++j) sum += block.qs[j];
    a.sum[b] = static_cast<float>(sum);
  }
  return a;
}

// Over a row's nb blocks, with s_b = d_w[b]·d_x[b] and dot(b) the block's
// integer dot product (a vector of partial sums):
//   dots = Σ_b s_b · dot(b),   sums = Σ_b s_b · Σ_j q_x[b, j]  (if x has the sums)
// Four blocks at a time, so that their four fp16 scales convert together, into
// two accumulators (two blocks in flight).
struct row_sums {
  float dots = 0;
  float sums = 0;
};

template <class Block, class Dot>
row_sums sum_blocks(const Block* row, const q8_activations& x, Dot dot) {
  const std::size_t nb = x.d.size();
  const bool with_sums = !x.sum.empty();
  qkernels::bsum a0{}, a1{};
  qkernels::f32x4 sums{};
  std::size_t b = 0;
  for (; b + 4 <= nb; b += 4) {
    const qkernels::f32x4 s = qkernels::block_scales(row + b, x.d.data() + b);
    a0 = qkernels::fmadd(a0, dot(b), s[0]);
    a1 = qkernels::fmadd(a1, dot(b + 1), s[1]);
    a0 = qkernels::fmadd(a0, dot(b + 2), s[2]);
    a1 = qkernels::fmadd(a1, dot(b + 3), s[3]);
    if (with_sums) {
      qkernels::f32x4 q;
      std::memcpy(&q, x.sum.data() + b, sizeof q);
      sums += s * q;
    }
  }
  float tail_sums = 0;
  for (; b < nb; ++b) {
    const float s = qkernels::half_to_float(row[b].d) * x.d[b];
    a0 = qkernels::fmadd(a0, dot(b), s);
    if (with_sums) tail_sums += s * x.sum[b];
  }
  return {qkernels::hsum(qkernels::add(a0, a1)),
          (sums[0] + sums[1]) + (sums[2] + sums[3]) + tail_sums};
}

}  // namespace

buffer<block_q8_0> quantize_activations(const tensor<1>& x) {
  require(x.size() > 0 && x.size() % qk == 0, "x.size", x.size(),
          "a positive multiple of 32 (the Q8_0 block)");
  quant::check_values(x.data(), x.size(), "x");
  buffer<block_q8_0> xq(x.size() / qk);
  ggml::quantize_row_q8_0_ref(x.data(), xq.data(), x.size());
  return xq;
}

tensor<1> fp32(const tensor<2>& w, const tensor<1>& x) {
  const std::size_t rows = w.shape(0), cols = w.shape(1);
  check_x(x, cols);
  tensor<1> y = output(rows);
  for (std::size_t r = 0; r < rows; ++r) y[r] = kernels::dot(w.data() + r * cols, x.data(), cols);
  return y;
}

tensor<1> fp16(const fp16::fp16_matrix& w, const tensor<1>& x) {
  check_x(x, w.cols);
  tensor<1> y = output(w.rows);
  for (std::size_t r = 0; r < w.rows; ++r)
    y[r] = qkernels::dot_f16_f32(w.values.data() + r * w.cols, x.data(), w.cols);
  return y;
}

namespace {

// The ggml products: x as Q8_0 blocks, then per row
//   y[r] = combine(row, sum_blocks(row, x, dot))
// where dot is the block's integer dot product and combine adds what a format
// needs besides (Q4_0: its offset, Q4_1: its minimums).
template <class Block, class Dot, class Combine>
tensor<1> ggml_product(const ggml::block_matrix<Block>& w, const q8_activations& x, Dot dot,
                       Combine combine) {
  tensor<1> y = output(w.rows);
  for (std::size_t r = 0; r < w.rows; ++r) {
    const Block* row = w.row(r);
    const qkernels::act* q = x.q.data();
    y[r] = combine(row, sum_blocks(row, x, [&](std::size_t b) { return dot(row[b], q + b * qk); }));
  }
  return y;
}

}  // namespace

tensor<1> q8_0(const ggml::q8_0_matrix& w, const tensor<1>& x) {
  check_x(x, w.cols);
  return ggml_product(
      w, activations(x, kernel::q8),
      [](const block_q8_0& a, const qkernels::act* b) { return qkernels::dot_q8_q8(a.qs, b); },
      [](const block_q8_0*, const row_sums& r) { return r.dots; });
}

// Q4_0 and Q4_1 multiply the unsigned nibbles q (0..15); a weight is d·(q - 8)
// (Q4_0) or d·q + m (Q4_1), so per block
//   Σ_j w[j]·x[j] = d_x · (d·Σ_j q[j]·q_x[j] - 8·d·Σ_j q_x[j])      (Q4_0)
//                 = d_x · (d·Σ_j q[j]·q_x[j] + m·Σ_j q_x[j])         (Q4_1)
// (ggml's Q8_1 activations store d_x·Σ_j q_x[j] for the second term). The
// kernels skip a subtraction per value; Q4_0's two sums are rounded apart.
tensor<1> q4_0(const ggml::q4_0_matrix& w, const tensor<1>& x) {
  check_x(x, w.cols);
  return ggml_product(
      w, activations(x, kernel::q4),
      [](const block_q4_0& a, const qkernels::act* b) { return qkernels::dot_q4_q8(a.qs, b); },
      [](const block_q4_0*, const row_sums& r) { return r.dots - 8.0f * r.sums; });
}

tensor<1> q4_1(const ggml::q4_1_matrix& w, const tensor<1>& x) {
  check_x(x, w.cols);
  const q8_activations xa = activations(x, kernel::q4);
  return ggml_product(
      w, xa,
      [](const block_q4_1& a, const qkernels::act* b) { return qkernels::dot_q4_q8(a.qs, b); },
      [&](const block_q4_1* row, const row_sums& r) {
        float mins = 0;
        for (std::size_t b = 0; b < xa.d.size(); ++b)
          mins += qkernels::half_to_float(row[b].m) * (xa.d[b] * xa.sum[b]);
        return mins + r.dots;
      });
}

namespace {

// One row of an affine matrix: Σ_groups s_g · Σ_{c in g} (code - z_g) · x[c].
// Whole 16-value chunks go through the vector kernel; int4 chunks need an even
// start (two codes per byte), so a group starting mid-byte, and the values past
// the last whole chunk, take the scalar path.
template <int Bits>
float affine_row(const quant::affine_matrix& w, std::size_t r, const float* x, std::size_t group) {
  const std::uint8_t* codes = w.codes.data() + r * w.row_bytes;
  fvec acc = qkernels::zero();
  float tail = 0;
  for (std::size_t c0 = 0; c0 < w.cols; c0 += group) {
    const std::size_t g = w.group_of(r, c0);
    const int z = w.zero_point(g);
    const float s = w.scales[g];
    const std::size_t chunks = (Bits == 8 || c0 % 2 == 0) ? group / 16 : 0;
    const fvec part = qkernels::sum_chunks(chunks, [&](std::size_t k) {
      const std::size_t c = c0 + 16 * k;
      return Bits == 8 ? qkernels::dot_u8_f32(codes + c, z, x + c)
                       : qkernels::dot_u4_f32(codes + c / 2, z, x + c);
    });
    float rest = 0;
    for (std::size_t c = c0 + 16 * chunks; c < c0 + group; ++c)
      rest += static_cast<float>(static_cast<int>(w.code(r, c)) - z) * x[c];
    acc = qkernels::fmadd(acc, part, s);
    tail += rest * s;
  }
  return qkernels::hsum(acc) + tail;
}

}  // namespace

tensor<1> affine(const quant::affine_matrix& w, const tensor<1>& x) {
  check_x(x, w.cols);
  tensor<1> y = output(w.rows);
  // A row is a run of groups (per tensor: the row is part of the one group).
  const std::size_t group = std::min(w.group_size, w.cols);
  for (std::size_t r = 0; r < w.rows; ++r)
    y[r] = w.format.bits == 8 ? affine_row<8>(w, r, x.data(), group)
                              : affine_row<4>(w, r, x.data(), group);
  return y;
}

tensor<1> nf4(const nf4::nf4_matrix& w, const tensor<1>& x) {
  check_x(x, w.cols);
  tensor<1> y = output(w.rows);
  const std::size_t per_row = w.cols / w.block, chunks = w.block / 16;
  buffer<float> absmax(per_row);  // the row's block scales, restored once per row
  for (std::size_t r = 0; r < w.rows; ++r) {
    for (std::size_t k = 0; k < per_row; ++k) absmax[k] = w.block_absmax(r * per_row + k);
    const std::uint8_t* codes = w.codes.data() + r * w.cols / 2;
    fvec acc = qkernels::zero();
    float tail = 0;
    for (std::size_t k = 0; k < per_row; ++k) {
      const std::size_t c0 = k * w.block;
      const fvec part = qkernels::sum_chunks(chunks, [&](std::size_t j) {
        const std::size_t c = c0 + 16 * j;
        return qkernels::dot_nf4_f32(codes + c / 2, x.data() + c);
      });
      float rest = 0;
      for (std::size_t c = c0 + 16 * chunks; c < c0 + w.block; ++c)
        rest += nf4::code[w.code_at(r, c)] * x[c];
      acc = qkernels::fmadd(acc, part, absmax[k]);
      tail += rest * absmax[k];
    }
    y[r] = qkernels::hsum(acc) + tail;
  }
  return y;
}

tensor<1> fp32_reference(const tensor<2>& w, const tensor<1>& x) {
  const std::size_t rows = w.shape(0), cols = w.shape(1);
  check_x(x, cols);
  tensor<1> y = output(rows);
  for (std::size_t r = 0; r < rows; ++r) {
    double sum = 0;
    for (std::size_t c = 0; c < cols; ++c) sum += static_cast<double>(w(r, c)) * x[c];
    y[r] = static_cast<float>(sum);
  }
  return y;
}

tensor<1> q8_0_reference(const ggml::q8_0_matrix& w, const buffer<block_q8_0>& xq) {
  require(xq.size() == w.blocks_per_row(), "xq.size", xq.size(), "cols / 32 of the weights");
  tensor<1> y = output(w.rows);
  for (std::size_t r = 0; r < w.rows; ++r) {
    const block_q8_0* row = w.row(r);
    float sumf = 0;
    for (std::size_t ib = 0; ib < xq.size(); ++ib) {
      int sumi = 0;
      for (std::size_t j = 0; j < qk; j++) sumi += row[ib].qs[j] * xq[ib].qs[j];
      sumf += sumi * (fp16::to_float(row[ib].d) * fp16::to_float(xq[ib].d));
    }
    y[r] = sumf;
  }
  return y;
}

tensor<1> q4_0_reference(const ggml::q4_0_matrix& w, const buffer<block_q8_0>& xq) {
  require(xq.size() == w.blocks_per_row(), "xq.size", xq.size(), "cols / 32 of the weights");
  tensor<1> y = output(w.rows);
  for (std::size_t r = 0; r < w.rows; ++r) {
    const block_q4_0* row = w.row(r);
    float sumf = 0;
    for (std::size_t ib = 0; ib < xq.size(); ++ib) {
      int sumi0 = 0, sumi1 = 0;
      for (std::size_t j = 0; j < qk / 2; ++j) {
        const int v0 = (row[ib].qs[j] & 0x0F) - 8;
        const int v1 = (row[ib].qs[j] >> 4) - 8;
        sumi0 += v0 * xq[ib].qs[j];
        sumi1 += v1 * xq[ib].qs[j + qk / 2];
      }
      const int sumi = sumi0 + sumi1;
      sumf += sumi * fp16::to_float(row[ib].d) * fp16::to_float(xq[ib].d);
    }
    y[r] = sumf;
  }
  return y;
}

tensor<1> q4_1_reference(const ggml::q4_1_matrix& w, const buffer<block_q8_0>& xq) {
  require(xq.size() == w.blocks_per_row(), "xq.size", xq.size(), "cols / 32 of the weights");
  tensor<1> y = output(w.rows);
  for (std::size_t r = 0; r < w.rows; ++r) {
    const block_q4_1* row = w.row(r);
    float sumf = 0;
    for (std::size_t ib = 0; ib < xq.size(); ++ib) {
      int sumi0 = 0, sumi1 = 0, sumx = 0;
      for (std::size_t j = 0; j < qk / 2; ++j) {
        sumi0 += (row[ib].qs[j] & 0x0F) * xq[ib].qs[j];
        sumi1 += (row[ib].qs[j] >> 4) * xq[ib].qs[j + qk / 2];
        sumx += xq[ib].qs[j] + xq[ib].qs[j + qk / 2];
      }
      const float dx = fp16::to_float(xq[ib].d);
      sumf += (sumi0 + sumi1) * fp16::to_float(row[ib].d) * dx +
              fp16::to_float(row[ib].m) * (dx * sumx);
    }
    y[r] = sumf;
  }
  return y;
}

}  // namespace memlab::qmatvec
