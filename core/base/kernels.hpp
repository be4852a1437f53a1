// base/kernels.hpp — the few inner loops core's hot paths share (internal header).
//
// Two ways to get vector code from both GCC (x86) and clang (-msimd128, wasm)
// without -ffast-math:
// * plain loops over fixed-width chunks of `lanes` floats, reductions keeping
//   `lanes` partial results; both compilers vectorize these on their own;
// * `vfloat`, a GCC/clang vector extension type of `lanes` floats, for the
//   register-blocked tile products where auto-vectorization gives up. The
//   compiler maps it onto what the target has: one AVX-512 register, two AVX2
//   registers, four wasm v128.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#if defined(__x86_64__) && defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

namespace memlab::kernels {

constexpr std::size_t lanes = 16;

typedef float vfloat __attribute__((vector_size(lanes * sizeof(float))));

inline vfloat load(const float* p) {
  vfloat v;
  std::memcpy(&v, p, sizeof v);  // an unaligned load
  return v;
}

inline void store(float* p, const vfloat& v) { std::memcpy(p, &v, sizeof v); }

// Four floats (one SSE / wasm v128 register), for the ends of rows too short
// for a whole vfloat.
typedef float vfloat4 __attribute__((vector_size(4 * sizeof(float))));

inline vfloat4 load4(const float* p) {
  vfloat4 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

inline void store4(float* p, const vfloat4& v) { std::memcpy(p, &v, sizeof v); }

// The vector for element-wise passes over many values (exp_approx, maxima):
// one register. A vfloat is one natively (AVX-512) but four v128 in wasm, and
// four exp_approx chains side by side need more than V8's 16 xmm registers:
// flash's softmax ran 40% faster on one v128 at a time.
#if defined(__wasm__)
typedef vfloat4 vfloat_register;
#else
typedef vfloat vfloat_register;
#endif

// a > b ? a : b and a < b ? a : b, lane by lane (NaN and ±0 as the selects
// say): for one float, a vfloat or a vfloat4.
inline float greater_of(float a, float b) { return a > b ? a : b; }
inline float lesser_of(float a, float b) { return a < b ? a : b; }
#if defined(__wasm_simd128__)
// In wasm clang 14 emits these selects as f32x4.max / f32x4.min (IEEE NaN
// rules, which V8 spends about 7 x86 instructions on) or as a compare and a
// bitselect; f32x4.pmax(x, y) is exactly x < y ? y : x, one maxps (pmin: one
// minps). A vector of 4n floats is n v128, each done on its own.
template <class V, class Op>
inline V by_v128(V a, V b, Op op) {
  v128_t x[sizeof(V) / sizeof(v128_t)], y[sizeof x / sizeof x[0]];
  static_assert(sizeof x == sizeof a);
  std::memcpy(x, &a, sizeof a);
  std::memcpy(y, &b, sizeof b);
  for (std::size_t i = 0; i < sizeof x / sizeof x[0]; ++i) x[i] = op(x[i], y[i]);
  std::memcpy(&a, x, sizeof a);
  return a;
}
template <class V>
inline V greater_of(V a, V b) {
  return by_v128(b, a, [](v128_t x, v128_t y) { return wasm_f32x4_pmax(x, y); });
}
template <class V>
inline V lesser_of(V a, V b) {
  return by_v128(b, a, [](v128_t x, v128_t y) { return wasm_f32x4_pmin(x, y); });
}
#else
template <class V>
inline V greater_of(V a, V b) {
  return a > b ? a : b;
}
template <class V>
inline V lesser_of(V a, V b) {
  return a < b ? a : b;
}
#endif

// The few other operations exp_approx needs, for one float and for a vector.
inline float clamp(float x, float lo, float hi) { return std::min(std::max(x, lo), hi); }
template <class V>
inline V clamp(V x, float lo, float hi) {  // a NaN lane stays NaN, as std::min/max keep it
  return lesser_of(V{} + hi, greater_of(V{} + lo, x));
}
template <class F, class I>
inline F bit_cast_to(I bits) {
  F f;
  static_assert(sizeof f == sizeof bits);
  std::memcpy(&f, &bits, sizeof f);
  return f;
}
inline std::uint32_t bits_of(float x) { return bit_cast_to<std::uint32_t>(x); }
template <class V>
inline auto bits_of(V x) {  // a vector of floats as one of as many uint32
  typedef std::uint32_t bits __attribute__((vector_size(sizeof(V))));
  return bit_cast_to<bits>(x);
}

// exp(x) for x <= 88, relative error below 2e-7 (Cephes expf), for a float or
// for a vfloat lane by lane (the same operations: the same bits). Unlike
// std::exp it is inline and branch-free, so loops over it vectorize.
//   exp(x) = 2^k · exp(r),  k = round(x / ln 2),  |r| <= ln 2 / 2
// r is computed with ln 2 split in two parts (Cody–Waite) so it stays exact, and
// exp(r) by a degree-6 polynomial; 2^k is built directly in the exponent bits.
// Inputs below -87 give exp(-87) ≈ 1.6e-38, i.e. zero next to any real term.
// k is rounded by adding and subtracting 1.5 · 2^23 (the sum has no bits below
// the units), not by std::floor: GCC does not vectorize floorf without
// -fno-trapping-math, and a loop with one scalar call in it runs scalar. That
// sum, 1.5 · 2^23 + k, holds k + 2^22 in its low mantissa bits, and shifting
// its bits left by 23 keeps just k's: 2^k's exponent field comes from there
// with no float-to-int conversion (one instruction natively, but about eight
// in V8's wasm SIMD, which saturates).
template <class T>
inline T exp_approx(T x) {
  x = clamp(x, -87.0f, 88.0f);
  constexpr float round_shift = 12582912.0f;  // 1.5 · 2^23
  const T shifted = x * 1.44269504088896341f + round_shift;
  const T k = shifted - round_shift;
  const T r = x - k * 0.693359375f + k * 2.12194440e-4f;
  T p = r * 1.9875691500e-4f + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  // (bits of shifted) << 23 = k << 23 (mod 2^32): 1.5 · 2^23's own bits shift out
  return p * bit_cast_to<T>((bits_of(shifted) << 23) + (127u << 23));
}

// The sum of a vector's lanes, as a tree (log2(lanes) dependent adds, not lanes).
inline float reduce_add(vfloat v) {
  float x[lanes];
  std::memcpy(x, &v, sizeof x);
  for (std::size_t width = lanes / 2; width > 0; width /= 2)
    for (std::size_t l = 0; l < width; ++l) x[l] += x[l + width];
  return x[0];
}

// The lane sums of four vectors at once, as reduce_add adds them (lanes l and
// l + 8, then l and l + 4, ...: the same bits): each level adds two vectors'
// halves side by side, so four sums take four shuffle-and-add levels, where
// four reduce_adds take sixteen. One query against many keys spent half its
// time in reduce_add.
inline vfloat4 reduce_add4(vfloat a0, vfloat a1, vfloat a2, vfloat a3) {
  static_assert(lanes == 16, "the shuffles below are written for 16 lanes");
  typedef float vfloat8 __attribute__((vector_size(8 * sizeof(float))));
  // [a0 0-7 | a1 0-7] + [a0 8-15 | a1 8-15], and the same for a2, a3
  const vfloat s01 =
      __builtin_shufflevector(a0, a1, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
      __builtin_shufflevector(a0, a1, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  const vfloat s23 =
      __builtin_shufflevector(a2, a3, 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23) +
      __builtin_shufflevector(a2, a3, 8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
  // [a0 0-3 | a1 0-3 | a2 0-3 | a3 0-3] + [... 4-7 ...]
  const vfloat s4 =
      __builtin_shufflevector(s01, s23, 0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27) +
      __builtin_shufflevector(s01, s23, 4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31);
  const vfloat8 s2 = __builtin_shufflevector(s4, s4, 0, 1, 4, 5, 8, 9, 12, 13) +
                     __builtin_shufflevector(s4, s4, 2, 3, 6, 7, 10, 11, 14, 15);
  return __builtin_shufflevector(s2, s2, 0, 2, 4, 6) + __builtin_shufflevector(s2, s2, 1, 3, 5, 7);
}

// sum_c a[c] · b[c]
inline float dot(const float* a, const float* b, std::size_t n) {
  vfloat acc = {};
  std::size_t c = 0;
  for (; c + lanes <= n; c += lanes) acc += load(a + c) * load(b + c);
  float sum = reduce_add(acc);
  for (; c < n; ++c) sum += a[c] * b[c];
  return sum;
}

// s[j] = scale · (q · k_j) for j < n, the k_j rows of d floats one after another:
// one query against many keys, as when decoding. Four keys at a time, so each
// chunk of q is loaded once for four multiply-adds and the four lane sums are
// independent of each other.
inline void scaled_dots(const float* q, const float* k, std::size_t n, std::size_t d, float scale,
                        float* s) {
  std::size_t j = 0;
  for (; j + 4 <= n; j += 4) {
    vfloat acc[4] = {};
    std::size_t c = 0;
    for (; c + lanes <= d; c += lanes) {
      const vfloat qc = load(q + c);
      for (std::size_t x = 0; x < 4; ++x) acc[x] += qc * load(k + (j + x) * d + c);
    }
    const vfloat4 sums = reduce_add4(acc[0], acc[1], acc[2], acc[3]);
    for (std::size_t x = 0; x < 4; ++x) {
      float sum = sums[x];
      for (std::size_t t = c; t < d; ++t) sum += q[t] * k[(j + x) * d + t];
      s[j + x] = scale * sum;
    }
  }
  for (; j < n; ++j) s[j] = scale * dot(q, k + j * d, d);
}

// y[c] += alpha · x[c]
inline void axpy(float* y, float alpha, const float* x, std::size_t n) {
  for (std::size_t c = 0; c < n; ++c) y[c] += alpha * x[c];
}

// max_j x[j], for n >= 1
inline float max_of(const float* x, std::size_t n) {
  float acc[lanes];
  for (std::size_t l = 0; l < lanes; ++l) acc[l] = x[0];
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes)
    for (std::size_t l = 0; l < lanes; ++l) acc[l] = std::max(acc[l], x[j + l]);
  float m = x[0];
  for (; j < n; ++j) m = std::max(m, x[j]);
  for (std::size_t l = 0; l < lanes; ++l) m = std::max(m, acc[l]);
  return m;
}

// x[j] := exp(x[j] - shift); returns the sum of the new values.
inline float exp_shifted_sum(float* x, float shift, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) x[j] = exp_approx(x[j] - shift);
  float acc[lanes] = {};
  std::size_t j = 0;
  for (; j + lanes <= n; j += lanes)
    for (std::size_t l = 0; l < lanes; ++l) acc[l] += x[j + l];
  float sum = 0.0f;
  for (; j < n; ++j) sum += x[j];
  for (std::size_t l = 0; l < lanes; ++l) sum += acc[l];
  return sum;
}

// v, which the compiler must now hold in a register. GCC folds a load used by
// several multiply-adds into each of them as a memory operand, so a b chunk
// feeding R rows is loaded R times; with R = 4 that made 20 loads per 16
// multiply-adds, and on Zen 4 (one 512-bit load per cycle) the products ran
// at the loads' pace. An empty asm that "changes" v stops the folding.
inline vfloat in_register(vfloat v) {
#if defined(__x86_64__) && defined(__AVX512F__)
  asm("" : "+v"(v));
#endif
  return v;
}

// How a product reads its left operand, a(r, j) for row r and inner index j:
// by rows, a[r · lda + j] (A stored as it is), or by columns, a[j · lda + r]
// (Aᵀ stored: attention's probabilities kept transposed, K kept transposed by a
// KV cache). Either way a register block broadcasts one a(r, j) per row.
enum class layout { rows, columns };

template <layout L>
inline float a_at(const float* a, std::size_t lda, std::size_t r, std::size_t j) {
  return L == layout::rows ? a[r * lda + j] : a[j * lda + r];
}
// From a(r, j) to a(r, j + 1).
template <layout L>
constexpr std::size_t next_j(std::size_t lda) {
  return L == layout::rows ? 1 : lda;
}

// c_r[:width] += sum_{j<inner} a(r, j) · b_j[:width] for r < R: R rows of
// C += A B, with strides lda, ldb, ldc. Each loaded chunk of a b row feeds R
// multiply-adds, and R · C accumulators (C chunks of `lanes` columns side by
// side) stay in registers over j. They are also R · C independent dependency
// chains: a lone chain waits out every multiply-add's latency, so with few rows
// the kernel takes several chunks at once, falling back 4 -> 2 -> 1 chunks for
// what is left of the row. Each c[r, col] gets its products in the order of j
// (so any register block gives the same bits), except with one row and fewer
// than 4 chunks (see below).
template <std::size_t R, std::size_t C, layout L = layout::rows>
void matmul_rows(const float* a, std::size_t lda, std::size_t inner, const float* b,
                 std::size_t ldb, float* c, std::size_t ldc, std::size_t width) {
  std::size_t col = 0;
  if constexpr (R == 1 && C < 4) {
    // One row and one or two chunks (a decoding step's P V over a short
    // head_dim): so few chains would each wait out every multiply-add's
    // latency, so j is split four ways into partial sums, added at the end.
    for (; col + C * lanes <= width; col += C * lanes) {
      vfloat acc[4][C] = {};
      for (std::size_t x = 0; x < C; ++x) acc[0][x] = load(c + col + x * lanes);
      std::size_t j = 0;
      for (; j + 4 <= inner; j += 4)
        for (std::size_t u = 0; u < 4; ++u)
          for (std::size_t x = 0; x < C; ++x)
            acc[u][x] += a_at<L>(a, lda, 0, j + u) * load(b + (j + u) * ldb + col + x * lanes);
      for (; j < inner; ++j)
        for (std::size_t x = 0; x < C; ++x)
          acc[0][x] += a_at<L>(a, lda, 0, j) * load(b + j * ldb + col + x * lanes);
      for (std::size_t x = 0; x < C; ++x)
        store(c + col + x * lanes, (acc[0][x] + acc[1][x]) + (acc[2][x] + acc[3][x]));
    }
  }
  for (; col + C * lanes <= width; col += C * lanes) {
    vfloat acc[R][C];
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t x = 0; x < C; ++x) acc[r][x] = load(c + r * ldc + col + x * lanes);
    // a(0, j) and b_j[col] by running pointers: clang (wasm) multiplied j · ldb
    // anew for every j, and V8 reloaded ldb from the stack to do it.
    const float* a0j = a;
    const float* bj_col = b + col;
    for (std::size_t j = 0; j < inner; ++j, a0j += next_j<L>(lda), bj_col += ldb) {
      vfloat bj[C];
      for (std::size_t x = 0; x < C; ++x) bj[x] = in_register(load(bj_col + x * lanes));
      for (std::size_t r = 0; r < R; ++r) {
        const float arj = a_at<L>(a0j, lda, r, 0);
        for (std::size_t x = 0; x < C; ++x) acc[r][x] += arj * bj[x];
      }
    }
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t x = 0; x < C; ++x) store(c + r * ldc + col + x * lanes, acc[r][x]);
  }
  if constexpr (C > 1) {
    matmul_rows<R, C / 2, L>(a, lda, inner, b + col, ldb, c + col, ldc, width - col);
  } else {
    const std::size_t tail = width - col;
#if defined(__x86_64__) && defined(__AVX512F__)
    // The columns past the last whole chunk (up to lanes - 1 of them) as one
    // chunk, loaded and stored under a mask (masked-off lanes are never read):
    // one pass down b, as for a whole chunk. A cached decoding step's key tiles
    // end anywhere, and there the short-vector and scalar passes below took
    // longer than the whole chunks before them. Same sums in the same order.
    if (tail > 0) {
      const __mmask16 mask = static_cast<__mmask16>((1u << tail) - 1);
      vfloat acc[R];
      for (std::size_t r = 0; r < R; ++r) acc[r] = _mm512_maskz_loadu_ps(mask, c + r * ldc + col);
      for (std::size_t j = 0; j < inner; ++j) {
        const vfloat bj = _mm512_maskz_loadu_ps(mask, b + j * ldb + col);
        for (std::size_t r = 0; r < R; ++r) acc[r] += a_at<L>(a, lda, r, j) * bj;
      }
      for (std::size_t r = 0; r < R; ++r) _mm512_mask_storeu_ps(c + r * ldc + col, mask, acc[r]);
    }
#else
    // The columns past the last whole chunk (up to lanes - 1 of them): four at a
    // time in a short vector, then one by one. Same sums in the same order.
    std::size_t t = 0;
    for (; t + 4 <= tail; t += 4) {
      vfloat4 acc[R];
      for (std::size_t r = 0; r < R; ++r) acc[r] = load4(c + r * ldc + col + t);
      for (std::size_t j = 0; j < inner; ++j) {
        const vfloat4 bj = load4(b + j * ldb + col + t);
        for (std::size_t r = 0; r < R; ++r) acc[r] += a_at<L>(a, lda, r, j) * bj;
      }
      for (std::size_t r = 0; r < R; ++r) store4(c + r * ldc + col + t, acc[r]);
    }
    // The last 0-3 columns side by side, j outermost: their sums are independent
    // chains and each b row's few values are read together (column by column,
    // each sum waited on the one before and b was walked down once per column).
    const std::size_t rest = tail - t;
    float acc[R][4];
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t u = 0; u < rest; ++u) acc[r][u] = c[r * ldc + col + t + u];
    for (std::size_t j = 0; j < inner; ++j)
      for (std::size_t r = 0; r < R; ++r) {
        const float arj = a_at<L>(a, lda, r, j);
        for (std::size_t u = 0; u < rest; ++u) acc[r][u] += arj * b[j * ldb + col + t + u];
      }
    for (std::size_t r = 0; r < R; ++r)
      for (std::size_t u = 0; u < rest; ++u) c[r * ldc + col + t + u] = acc[r][u];
#endif
  }
}

// Register blocks of the products below: rows x chunks of `lanes` columns.
// Natively (32 AVX-512 registers; Zen 4 loads one 512-bit vector per cycle and
// does one 512-bit multiply-add) 4 rows x 4 chunks: 16 accumulators, 4 loads and
// 4 broadcasts per 16 multiply-adds, where 8 x 1 did 9 loads per 8 and ran out
// of loads. Rows narrower than 4 chunks keep 8 x 1 (8 independent chains).
// In wasm (V8 has 16 xmm registers on x86-64; a vfloat is 4 of them) 2 rows x 1
// chunk: 8 accumulators; 4 rows spill.
#if defined(__wasm__)
constexpr std::size_t block_rows = 2, block_chunks = 1;
constexpr std::size_t narrow_rows = 2;
#else
constexpr std::size_t block_rows = 4, block_chunks = 4;
constexpr std::size_t narrow_rows = 8;
#endif

// c[:n] += sum_j a[j] · b_j[:n]: one row times a wide matrix (a linear layer
// while decoding one token). Memory-bound: every weight is used once.
// * Natively: column blocks of up to 16 chunks (256 floats) held in registers
//   over all j, b read down the block. Streaming b row after row instead, adding
//   each into c in L1, spends a load and a store of c per multiply-add: the tiny
//   GPT's decoding weights (3 MiB, in L3) went at 47 GB/s that way, at 76 GB/s
//   in register blocks, against 86 GB/s for reading them alone.
// * In wasm (16 registers) b is streamed two rows at a time, strictly in order
//   (what prefetchers do best), adding both into c, which stays in L1.
// Either way each c[col] gets a[0] b_0[col], a[1] b_1[col], ... in order.
inline void matvec_accumulate(const float* a, std::size_t inner, const float* b, std::size_t ldb,
                              float* c, std::size_t n) {
#if !defined(__wasm__)
  matmul_rows<1, 16>(a, inner, inner, b, ldb, c, n, n);
#else
  // Two rows of b per pass over c: one load and one store of c per two
  // multiply-adds (the tiny GPT's decoding matvecs in Chromium: 80 us a step,
  // against 90 us a row per pass).
  std::size_t j = 0;
  for (; j + 2 <= inner; j += 2) {
    const float a0 = a[j], a1 = a[j + 1];
    const float* b0 = b + j * ldb;
    const float* b1 = b0 + ldb;
    std::size_t col = 0;
    for (; col + 2 * lanes <= n; col += 2 * lanes)
      for (std::size_t x = 0; x < 2; ++x) {
        const std::size_t at = col + x * lanes;
        store(c + at, load(c + at) + a0 * load(b0 + at) + a1 * load(b1 + at));
      }
    for (; col + lanes <= n; col += lanes)
      store(c + col, load(c + col) + a0 * load(b0 + col) + a1 * load(b1 + col));
    for (; col < n; ++col) c[col] = c[col] + a0 * b0[col] + a1 * b1[col];
  }
  if (j < inner) {
    const float aj = a[j];
    const float* bj = b + j * ldb;
    std::size_t col = 0;
    for (; col + lanes <= n; col += lanes) store(c + col, load(c + col) + aj * load(bj + col));
    for (; col < n; ++col) c[col] += aj * bj[col];
  }
#endif
}

// C += A B: a [rows, inner] read as layout L says, b [inner, width], c [rows,
// width], with strides lda, ldb, ldc. Attention's scores and P V, and every
// linear layer.
template <layout L>
void matmul_accumulate_as(const float* a, std::size_t lda, std::size_t rows, std::size_t inner,
                          const float* b, std::size_t ldb, float* c, std::size_t ldc,
                          std::size_t width) {
  auto a_row = [&](std::size_t r) { return L == layout::rows ? a + r * lda : a + r; };
  std::size_t r = 0;
  if (width >= block_chunks * lanes) {
    for (; r + block_rows <= rows; r += block_rows)
      matmul_rows<block_rows, block_chunks, L>(a_row(r), lda, inner, b, ldb, c + r * ldc, ldc,
                                               width);
  } else {
    for (; r + narrow_rows <= rows; r += narrow_rows)
      matmul_rows<narrow_rows, 1, L>(a_row(r), lda, inner, b, ldb, c + r * ldc, ldc, width);
  }
  for (; r < rows; ++r) {
    // A single row: a narrow C fits in registers; a wide one is streamed.
    if (L == layout::rows && width > 4 * lanes)
      matvec_accumulate(a_row(r), inner, b, ldb, c + r * ldc, width);
    else
      matmul_rows<1, 4, L>(a_row(r), lda, inner, b, ldb, c + r * ldc, ldc, width);
  }
}

// C += A B, a [rows, inner] with row stride lda.
inline void matmul_accumulate(const float* a, std::size_t lda, std::size_t rows, std::size_t inner,
                              const float* b, std::size_t ldb, float* c, std::size_t ldc,
                              std::size_t width) {
  matmul_accumulate_as<layout::rows>(a, lda, rows, inner, b, ldb, c, ldc, width);
}

// C += Aᵀ B: a stored as [inner, rows] (Aᵀ) with row stride lda >= rows.
inline void matmul_at_accumulate(const float* a, std::size_t lda, std::size_t rows,
                                 std::size_t inner, const float* b, std::size_t ldb, float* c,
                                 std::size_t ldc, std::size_t width) {
  matmul_accumulate_as<layout::columns>(a, lda, rows, inner, b, ldb, c, ldc, width);
}

// C += A B for dense row-major matrices: a [rows, inner], b [inner, n], c [rows, n].
inline void matmul_accumulate(const float* a, std::size_t rows, std::size_t inner, const float* b,
                              std::size_t n, float* c) {
  matmul_accumulate(a, inner, rows, inner, b, n, c, n, n);
}

// S = scale · Q Kᵀ for `rows` query rows (q: rows of stride d) from K kept
// transposed (kt: [d, cols] with row stride ldk), into s (row stride lds):
// attention's score tiles, and a decoding query's scores over a KV cache.
inline void tile_scores(const float* q, std::size_t rows, std::size_t d, const float* kt,
                        std::size_t ldk, std::size_t cols, float scale, float* s, std::size_t lds) {
  for (std::size_t r = 0; r < rows; ++r) std::fill_n(s + r * lds, cols, 0.0f);
  matmul_accumulate(q, d, rows, d, kt, ldk, s, lds, cols);
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t j = 0; j < cols; ++j) s[r * lds + j] *= scale;
}

// ---- references ------------------------------------------------------------
//
// Plain scalar loops computing what each kernel above computes, in the obvious
// order, with no chunks and no tails (as ggml keeps quantize_row_q8_0_ref beside
// its SIMD paths). The tests hold every kernel to these over every tail path
// (rows 1..9 x widths 1..70); on small integer inputs every sum is exact in
// fp32 whatever its order, so kernel and reference must agree bit for bit.
namespace ref {

inline float dot(const float* a, const float* b, std::size_t n) {
  float sum = 0.0f;
  for (std::size_t c = 0; c < n; ++c) sum += a[c] * b[c];
  return sum;
}

inline void scaled_dots(const float* q, const float* k, std::size_t n, std::size_t d, float scale,
                        float* s) {
  for (std::size_t j = 0; j < n; ++j) s[j] = scale * ref::dot(q, k + j * d, d);
}

inline void axpy(float* y, float alpha, const float* x, std::size_t n) {
  for (std::size_t c = 0; c < n; ++c) y[c] += alpha * x[c];
}

inline float max_of(const float* x, std::size_t n) {
  float m = x[0];
  for (std::size_t j = 1; j < n; ++j) m = std::max(m, x[j]);
  return m;
}

inline float exp_shifted_sum(float* x, float shift, std::size_t n) {
  float sum = 0.0f;
  for (std::size_t j = 0; j < n; ++j) sum += (x[j] = exp_approx(x[j] - shift));
  return sum;
}

// C += A B with row strides: c[r, col] += Σ_j a[r, j] · b[j, col], j in order.
inline void matmul_accumulate(const float* a, std::size_t lda, std::size_t rows, std::size_t inner,
                              const float* b, std::size_t ldb, float* c, std::size_t ldc,
                              std::size_t width) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t col = 0; col < width; ++col) {
      float acc = c[r * ldc + col];
      for (std::size_t j = 0; j < inner; ++j) acc += a[r * lda + j] * b[j * ldb + col];
      c[r * ldc + col] = acc;
    }
}

// C += Aᵀ B, a stored as [inner, rows]: c[r, col] += Σ_j a[j, r] · b[j, col].
inline void matmul_at_accumulate(const float* a, std::size_t lda, std::size_t rows,
                                 std::size_t inner, const float* b, std::size_t ldb, float* c,
                                 std::size_t ldc, std::size_t width) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t col = 0; col < width; ++col) {
      float acc = c[r * ldc + col];
      for (std::size_t j = 0; j < inner; ++j) acc += a[j * lda + r] * b[j * ldb + col];
      c[r * ldc + col] = acc;
    }
}

// matmul_rows<R, C, L> is R rows of one of the above.
template <std::size_t R, layout L>
void matmul_rows(const float* a, std::size_t lda, std::size_t inner, const float* b,
                 std::size_t ldb, float* c, std::size_t ldc, std::size_t width) {
  if (L == layout::rows)
    ref::matmul_accumulate(a, lda, R, inner, b, ldb, c, ldc, width);
  else
    ref::matmul_at_accumulate(a, lda, R, inner, b, ldb, c, ldc, width);
}

inline void matvec_accumulate(const float* a, std::size_t inner, const float* b, std::size_t ldb,
                              float* c, std::size_t n) {
  ref::matmul_accumulate(a, inner, 1, inner, b, ldb, c, n, n);
}

}  // namespace ref

// tanh(x) = 1 - 2 / (e^(2x) + 1), through exp_approx so loops over it vectorize;
// absolute error below 3e-7. Saturates to ±1 (e^(2x) is clamped, never inf).
// For a float or a vfloat lane by lane (the same operations: the same bits).
template <class T>
inline T tanh_approx(T x) {
  return 1.0f - 2.0f / (exp_approx(2.0f * x) + 1.0f);
}

}  // namespace memlab::kernels
