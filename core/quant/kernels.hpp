// quant/kernels.hpp — the inner loops of the quantized matrix-vector products (internal).
//
// Each function handles one chunk of a weight row (16 or 32 values) against the
// matching chunk of the activations and returns an `fvec` of partial sums whose
// lanes add up to the chunk's dot product. The caller scales the chunk by its
// block's scale and accumulates vectors, so the horizontal sum happens once per
// row, not once per block (as ggml's SIMD kernels do).
//
// Several implementations of the same few operations, because no single way of
// writing them vectorizes well on every target (measured on 4096 x 4096, see
// qmatvec.hpp):
// * natively, GCC vector extensions of 16 lanes (one AVX-512 register, two AVX2);
//   widening int8 -> int16 products then int16 -> float;
// * natively on x86 with AVX2 + FMA, the ggml block products (Q8_0, Q4_0, Q4_1)
//   as ggml writes them, with vpmaddubsw (2.7x faster than the vector extensions;
//   a build without AVX2, such as the sanitizer preset's, tests the generic ones);
// * in wasm, <wasm_simd128.h>: clang 14 turns the same vector-extension code
//   into per-lane extracts (5x slower than fp32), while i16x8.extmul and
//   i32x4.extadd_pairwise do a block's integer dot in a few instructions.
// Integer parts are exact: |a·b| <= 127·127, so two products fit in int16
// (32258 <= 32767), and every partial sum is an integer below 2^24, exact in fp32.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "base/kernels.hpp"
#include "quant/fp16.hpp"
#include "quant/nf4.hpp"

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#elif defined(__x86_64__) && (defined(__AVX2__) || defined(__F16C__))
#include <immintrin.h>
#endif

namespace memlab::qkernels {

#if defined(__wasm_simd128__)

using fvec = v128_t;  // 4 floats
using bsum = fvec;    // a ggml block's partial sums

inline fvec zero() { return wasm_f32x4_splat(0.0f); }
inline fvec fmadd(fvec acc, fvec v, float s) {
  return wasm_f32x4_add(acc, wasm_f32x4_mul(v, wasm_f32x4_splat(s)));
}
inline fvec add(fvec a, fvec b) { return wasm_f32x4_add(a, b); }
inline float hsum(fvec v) {
  return (wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1)) +
         (wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3));
}

// The activations' Q8_0 codes, widened to int16 once per product: then a
// block's dot product is four i32x4.dot_i16x8_s (one pmaddwd each on x86) on
// the weights, widened as they are loaded. Multiplying int8 by int8 instead
// (i16x8.extmul, then pairwise adds) widens both sides in every block, for every
// row: Q8_0 at 4096 x 4096 took 2.2 ms against 1.8 ms this way (node, V8).
using act = std::int16_t;

// Σ_j w[j]·x[j], j < 8, in 4 int32 lanes (a pair of products each):
// v128.load8x8_s widens the 8 weights to int16 as it loads them (one pmovsxbw
// on x86, where widening a loaded vector's high half takes two instructions).
// Exact: |w·x| <= 128·127, a pair's sum fits in int32 with room to spare.
inline v128_t dot8(const std::int8_t* w, const act* x) {
  return wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(w), wasm_v128_load(x));
}

// Σ_j a[j]·b[j], j < 32 (Q8_0 weights against Q8_0 activations).
inline bsum dot_q8_q8(const std::int8_t* a, const act* b) {
  const v128_t lo = wasm_i32x4_add(dot8(a, b), dot8(a + 8, b + 8));
  const v128_t hi = wasm_i32x4_add(dot8(a + 16, b + 16), dot8(a + 24, b + 24));
  return wasm_f32x4_convert_i32x4(wasm_i32x4_add(lo, hi));
}

// A Q4 block's nibbles read as 8 int16 lanes give four sets of 8 values with a
// mask and a shift each (byte 2k low/high nibble: values 2k and 16 + 2k; byte
// 2k + 1: values 2k + 1 and 17 + 2k), where widening bytes to int16 takes a
// shuffle per half. So the Q4 kernels take the activations in that order:
// per block, b[2k], then b[2k + 1], then b[16 + 2k], then b[17 + 2k] (k < 8).
// Q4_0 at 4096 x 4096 in Chromium: 2.0 ms, against 2.4 ms widening bytes.
inline void arrange_for_q4(const std::int8_t* q, act* out) {
  for (std::size_t k = 0; k < 8; ++k) {
    out[k] = q[2 * k];
    out[8 + k] = q[2 * k + 1];
    out[16 + k] = q[16 + 2 * k];
    out[24 + k] = q[17 + 2 * k];
  }
}

// Σ_j q[j]·b[j], j < 32, q the unsigned nibbles (0..15) in ggml's order (byte j
// holds q[j] in its low nibble and q[j + 16] in its high one), b arranged by
// arrange_for_q4.
inline bsum dot_q4_q8(const std::uint8_t* qs, const act* b) {
  const v128_t v = wasm_v128_load(qs), low4 = wasm_i16x8_splat(0x000F);
  const v128_t even_lo = wasm_v128_and(v, low4);
  const v128_t odd_lo = wasm_v128_and(wasm_u16x8_shr(v, 8), low4);
  const v128_t even_hi = wasm_v128_and(wasm_u16x8_shr(v, 4), low4);
  const v128_t odd_hi = wasm_u16x8_shr(v, 12);
  const v128_t lo = wasm_i32x4_add(wasm_i32x4_dot_i16x8(even_lo, wasm_v128_load(b)),
                                   wasm_i32x4_dot_i16x8(odd_lo, wasm_v128_load(b + 8)));
  const v128_t hi = wasm_i32x4_add(wasm_i32x4_dot_i16x8(even_hi, wasm_v128_load(b + 16)),
                                   wasm_i32x4_dot_i16x8(odd_hi, wasm_v128_load(b + 24)));
  return wasm_f32x4_convert_i32x4(wasm_i32x4_add(lo, hi));
}

// Σ_j (c[j] - zero)·x[j], j < 16, for 16 codes in the bytes of v. The codes are
// widened unsigned to 32 bits and the zero point subtracted there: clang 14
// folds a sign extension followed by a conversion into a conversion from i16,
// which it then does lane by lane.
inline fvec dot_codes_f32(v128_t v, int zero, const float* x) {
  const v128_t z = wasm_i32x4_splat(zero);
  const v128_t lo = wasm_u16x8_extend_low_u8x16(v), hi = wasm_u16x8_extend_high_u8x16(v);
  auto part = [&](v128_t c32, const float* xs) {
    return wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_sub(c32, z)), wasm_v128_load(xs));
  };
  const fvec p0 = part(wasm_u32x4_extend_low_u16x8(lo), x);
  const fvec p1 = part(wasm_u32x4_extend_high_u16x8(lo), x + 4);
  const fvec p2 = part(wasm_u32x4_extend_low_u16x8(hi), x + 8);
  const fvec p3 = part(wasm_u32x4_extend_high_u16x8(hi), x + 12);
  return wasm_f32x4_add(wasm_f32x4_add(p0, p1), wasm_f32x4_add(p2, p3));
}

// Σ_j (c[j] - zero)·x[j], j < 16, one byte per code (affine int8).
inline fvec dot_u8_f32(const std::uint8_t* c, int zero, const float* x) {
  return dot_codes_f32(wasm_v128_load(c), zero, x);
}

// 8 bytes -> 16 nibble indexes in value order; low_first: value 2i in the low
// nibble of byte i (affine int4), else in the high nibble (NF4, bitsandbytes).
inline v128_t nibbles(const std::uint8_t* bytes, bool low_first) {
  const v128_t v = wasm_v128_load64_zero(bytes);
  const v128_t lo = wasm_v128_and(v, wasm_i8x16_splat(0x0F));
  const v128_t hi = wasm_u8x16_shr(v, 4);
  const v128_t first = low_first ? lo : hi, second = low_first ? hi : lo;
  return wasm_i8x16_shuffle(first, second, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
}

// Σ_j (c[j] - zero)·x[j], j < 16, two codes per byte, low nibble first (affine int4).
inline fvec dot_u4_f32(const std::uint8_t* bytes, int zero, const float* x) {
  return dot_codes_f32(nibbles(bytes, true), zero, x);
}

// The NF4 code book split into its four byte planes: i8x16.swizzle looks up 16
// bytes at once, so four lookups and two rounds of interleaving rebuild 16 floats.
struct nf4_planes {
  v128_t plane[4];
  nf4_planes() {
    std::uint8_t bytes[4][16];
    for (int k = 0; k < 16; ++k) {
      std::uint32_t bits;
      std::memcpy(&bits, &nf4::code[static_cast<std::size_t>(k)], 4);
      for (int p = 0; p < 4; ++p) bytes[p][k] = static_cast<std::uint8_t>(bits >> (8 * p));
    }
    for (int p = 0; p < 4; ++p) plane[p] = wasm_v128_load(bytes[p]);
  }
};

// Built once at start-up: a function-local static would cost a guard call per use.
inline const nf4_planes planes{};

// Σ_j code[c[j]]·x[j], j < 16, two codes per byte, high nibble first (NF4).
inline fvec dot_nf4_f32(const std::uint8_t* bytes, const float* x) {
  const v128_t idx = nibbles(bytes, false);
  const v128_t b0 = wasm_i8x16_swizzle(planes.plane[0], idx);
  const v128_t b1 = wasm_i8x16_swizzle(planes.plane[1], idx);
  const v128_t b2 = wasm_i8x16_swizzle(planes.plane[2], idx);
  const v128_t b3 = wasm_i8x16_swizzle(planes.plane[3], idx);
  // bytes 0,1 and 2,3 of each value side by side, then the two halves together
  const v128_t l01 =
      wasm_i8x16_shuffle(b0, b1, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t h01 =
      wasm_i8x16_shuffle(b0, b1, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t l23 =
      wasm_i8x16_shuffle(b2, b3, 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const v128_t h23 =
      wasm_i8x16_shuffle(b2, b3, 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  const v128_t v0 = wasm_i16x8_shuffle(l01, l23, 0, 8, 1, 9, 2, 10, 3, 11);
  const v128_t v1 = wasm_i16x8_shuffle(l01, l23, 4, 12, 5, 13, 6, 14, 7, 15);
  const v128_t v2 = wasm_i16x8_shuffle(h01, h23, 0, 8, 1, 9, 2, 10, 3, 11);
  const v128_t v3 = wasm_i16x8_shuffle(h01, h23, 4, 12, 5, 13, 6, 14, 7, 15);
  const fvec p0 = wasm_f32x4_mul(v0, wasm_v128_load(x));
  const fvec p1 = wasm_f32x4_mul(v1, wasm_v128_load(x + 4));
  const fvec p2 = wasm_f32x4_mul(v2, wasm_v128_load(x + 8));
  const fvec p3 = wasm_f32x4_mul(v3, wasm_v128_load(x + 12));
  return wasm_f32x4_add(wasm_f32x4_add(p0, p1), wasm_f32x4_add(p2, p3));
}

#else  // GCC (or clang) vector extensions, natively

// Loads go through memcpy into plain vector types, and widening goes one step
// at a time (8 -> 16 -> 32 bits): GCC 12 turns a direct u8 -> i32 conversion,
// or a dereferenced under-aligned vector pointer, into 16 scalar byte loads.
using kernels::lanes;
using fvec = kernels::vfloat;  // 16 floats, as in core's other kernels
typedef std::int32_t ivec __attribute__((vector_size(lanes * sizeof(std::int32_t))));
typedef std::int16_t svec __attribute__((vector_size(lanes * sizeof(std::int16_t))));
typedef std::uint16_t usvec __attribute__((vector_size(lanes * sizeof(std::uint16_t))));
typedef std::int8_t bvec __attribute__((vector_size(lanes)));
typedef std::uint8_t ubvec __attribute__((vector_size(lanes)));
typedef std::uint8_t ubvec8 __attribute__((vector_size(8)));

inline fvec zero() { return fvec{}; }
inline fvec fmadd(fvec acc, fvec v, float s) { return acc + v * s; }
inline fvec add(fvec a, fvec b) { return a + b; }
inline float hsum(fvec v) {
  float sum = 0;
  for (std::size_t l = 0; l < lanes; ++l) sum += v[l];
  return sum;
}
template <class V>
inline V load(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
// 16 unsigned bytes minus a zero point, as floats.
inline fvec to_float(ubvec v, int zero) {
  return __builtin_convertvector(
      __builtin_convertvector(__builtin_convertvector(v, usvec), ivec) - zero, fvec);
}

using act = std::int8_t;  // the activations' Q8_0 codes, as stored

// The Q4 kernels take the activations as stored (see the wasm version).
inline void arrange_for_q4(const std::int8_t* q, act* out) { std::memcpy(out, q, 32); }

#if defined(__AVX2__) && defined(__FMA__)

// x86 with AVX2 (x86-64-v3 and later): ggml's kernels, 8 float lanes per block.
// The generic code below spends ~3x the instructions per block (int8 -> int16
// widening, 16-bit products and conversions one step at a time), where
// vpmaddubsw multiplies 32 byte pairs and adds neighbours in one instruction:
// Q8_0 at 4096 x 4096 went from 2.5 to 0.9 ms.
using bsum = __m256;

inline bsum fmadd(bsum acc, bsum v, float s) { return _mm256_fmadd_ps(v, _mm256_set1_ps(s), acc); }
inline bsum add(bsum a, bsum b) { return _mm256_add_ps(a, b); }
inline float hsum(bsum v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// Σ_j a[j]·b[j] over 32 byte pairs as 8 float lanes (ggml's mul_sum_i8_pairs_float).
// vpmaddubsw multiplies unsigned by signed bytes, so a's sign moves onto b:
// |a[j]|·(±b[j]); its int16 pair sums are exact for a, b in [-127, 127]
// (2·127·127 = 32258 <= 32767), and vpmaddwd adds pairs of those into int32.
inline bsum sum_i8_pairs(__m256i a, __m256i b) {
  const __m256i abs_a = _mm256_sign_epi8(a, a), signed_b = _mm256_sign_epi8(b, a);
  const __m256i pairs = _mm256_maddubs_epi16(abs_a, signed_b);
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

inline __m256i load256(const void* p) { return _mm256_loadu_si256(static_cast<const __m256i*>(p)); }

inline bsum dot_q8_q8(const std::int8_t* a, const act* b) {
  return sum_i8_pairs(load256(a), load256(b));
}

// Σ_j q[j]·b[j], the nibbles unsigned: vpmaddubsw takes them as they are
// (pair sums up to 2·15·128, exact in int16).
inline bsum dot_q4_q8(const std::uint8_t* qs, const act* b) {
  // low nibbles (values 0..15) in the low half, high nibbles (16..31) in the high half
  const __m128i q = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m256i nibbles =
      _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), _mm256_set1_epi8(0x0F));
  const __m256i pairs = _mm256_maddubs_epi16(nibbles, load256(b));
  return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

#else

using bsum = fvec;

typedef std::int8_t bvec32 __attribute__((vector_size(2 * lanes)));
typedef std::int16_t svec32 __attribute__((vector_size(2 * lanes * sizeof(std::int16_t))));

// 32 int8 products as int16 (exact: |a·b| <= 128·127), their two halves added
// (exact: 2·128·127 < 2^15), as 16 floats.
inline fvec products_to_float(bvec32 a, bvec32 b) {
  const svec32 p = __builtin_convertvector(a, svec32) * __builtin_convertvector(b, svec32);
  const svec s =
      __builtin_shufflevector(p, p, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) +
      __builtin_shufflevector(p, p, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
  return __builtin_convertvector(s, fvec);
}

inline bsum dot_q8_q8(const std::int8_t* a, const act* b) {
  return products_to_float(load<bvec32>(a), load<bvec32>(b));
}

inline bsum dot_q4_q8(const std::uint8_t* qs, const act* b) {
  const ubvec q = load<ubvec>(qs);
  const bvec lo = reinterpret_cast<bvec>(q & 0x0F), hi = reinterpret_cast<bvec>(q >> 4);
  // values 0..15 in the low nibbles, 16..31 in the high ones: side by side they are in order
  const bvec32 w =
      __builtin_shufflevector(lo, hi, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                              18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31);
  return products_to_float(w, load<bvec32>(b));
}

#endif

inline fvec dot_u8_f32(const std::uint8_t* c, int zero, const float* x) {
  return to_float(load<ubvec>(c), zero) * load<fvec>(x);
}

// 8 bytes -> 16 nibbles in value order (see the wasm version).
inline ubvec nibbles(const std::uint8_t* bytes, bool low_first) {
  const ubvec8 v = load<ubvec8>(bytes);
  const ubvec8 lo = v & 0x0F, hi = v >> 4;
  return low_first
             ? __builtin_shufflevector(lo, hi, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)
             : __builtin_shufflevector(hi, lo, 0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7,
                                       15);
}

inline fvec dot_u4_f32(const std::uint8_t* bytes, int zero, const float* x) {
  return to_float(nibbles(bytes, true), zero) * load<fvec>(x);
}

inline fvec dot_nf4_f32(const std::uint8_t* bytes, const float* x) {
  const ivec idx =
      __builtin_convertvector(__builtin_convertvector(nibbles(bytes, false), usvec), ivec);
#if defined(__clang__)
  fvec values;
  for (std::size_t l = 0; l < lanes; ++l) values[l] = nf4::code[static_cast<std::size_t>(idx[l])];
#else
  // A 16-entry table in one vector: one permute (vpermps on AVX-512).
  const fvec values = __builtin_shuffle(load<fvec>(nf4::code.data()), idx);
#endif
  return values * load<fvec>(x);
}

#endif

// ---- block scales -------------------------------------------------------------
//
// Every block of a row is scaled by d_w · d_x, d_w stored as fp16. Converting it
// with fp16::to_float, a dozen integer operations, took a third of a Q8_0 product
// in wasm; with F16C it is one instruction, and elsewhere four go at once.

typedef std::uint32_t u32x4 __attribute__((vector_size(4 * sizeof(std::uint32_t))));
typedef float f32x4 __attribute__((vector_size(4 * sizeof(float))));

// fp16::to_float on four values at once, h << 16 in each lane: the same
// operations on 32-bit lanes, so the same bits (no F16C needed).
inline f32x4 to_float4(u32x4 w) {
  const u32x4 sign = w & 0x80000000u;
  const u32x4 two_w = w + w;
  const f32x4 normalized = reinterpret_cast<f32x4>((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
  const f32x4 denormalized = reinterpret_cast<f32x4>((two_w >> 17) | (126u << 23)) - 0.5f;
  const u32x4 is_denormal = reinterpret_cast<u32x4>(two_w < (1u << 27));  // all ones or zero
  return reinterpret_cast<f32x4>(sign | (is_denormal & reinterpret_cast<u32x4>(denormalized)) |
                                 (~is_denormal & reinterpret_cast<u32x4>(normalized)));
}

// fp16 -> fp32, the same value as fp16::to_float (the conversion is exact; only
// NaNs, which no scale is, may differ in their payload).
inline float half_to_float(fp16::half h) {
#if defined(__F16C__) && !defined(__wasm__)
  return _cvtsh_ss(h);
#else
  return fp16::to_float(h);
#endif
}

// s[k] = d_w[k] · dx[k] for the four blocks w[0..3] (fp16 scales `d`).
template <class Block>
inline f32x4 block_scales(const Block* w, const float* dx) {
  f32x4 d_x;
  std::memcpy(&d_x, dx, sizeof d_x);
#if defined(__F16C__) && !defined(__wasm__)
  const f32x4 d_w = _mm_cvtph_ps(
      _mm_setr_epi16(static_cast<short>(w[0].d), static_cast<short>(w[1].d),
                     static_cast<short>(w[2].d), static_cast<short>(w[3].d), 0, 0, 0, 0));
#else
  const f32x4 d_w = to_float4(u32x4{w[0].d, w[1].d, w[2].d, w[3].d} << 16);
#endif
  return d_w * d_x;
}

// Σ_{k < chunks} chunk(k), with two accumulators so that two chunks are in
// flight (one would wait for the previous add on every chunk).
template <class Chunk>
inline fvec sum_chunks(std::size_t chunks, Chunk chunk) {
  fvec a0 = zero(), a1 = zero();
  std::size_t k = 0;
  for (; k + 2 <= chunks; k += 2) {
    a0 = add(a0, chunk(k));
    a1 = add(a1, chunk(k + 1));
  }
  if (k < chunks) a0 = add(a0, chunk(k));
  return add(a0, a1);
}

// Σ_j fp16(w[j])·x[j] over n values, converting as it goes; 16 accumulators so
// that both compilers vectorize the conversion (it is branch-free bit work).
inline float dot_f16_f32(const fp16::half* w, const float* x, std::size_t n) {
  constexpr std::size_t width = 16;
  float acc[width] = {};
  std::size_t c = 0;
  for (; c + width <= n; c += width)
    for (std::size_t l = 0; l < width; ++l) acc[l] += fp16::to_float(w[c + l]) * x[c + l];
  float sum = 0;
  for (; c < n; ++c) sum += fp16::to_float(w[c]) * x[c];
  for (std::size_t l = 0; l < width; ++l) sum += acc[l];
  return sum;
}

// ---- references ------------------------------------------------------------
//
// Each chunk kernel above as a plain scalar loop (ggml's *_generic / _ref style).
// The vector kernels return lanes whose sum is the chunk's dot product; the
// tests hold hsum(kernel) to these over every code value and every tail.
namespace ref {

// Σ_j a[j]·b[j], j < 32: the integer sum, exact.
inline int dot_q8_q8(const std::int8_t* a, const std::int8_t* b) {
  int sum = 0;
  for (std::size_t j = 0; j < 32; ++j) sum += a[j] * b[j];
  return sum;
}

// Σ_j q[j]·b[j], j < 32, q[j] in the low nibble of byte j, q[j + 16] in its
// high nibble (ggml's order), unsigned.
inline int dot_q4_q8(const std::uint8_t* qs, const std::int8_t* b) {
  int sum = 0;
  for (std::size_t j = 0; j < 16; ++j) {
    sum += (qs[j] & 0x0F) * b[j];
    sum += (qs[j] >> 4) * b[j + 16];
  }
  return sum;
}

// Σ_j (c[j] - zero)·x[j], j < 16, one byte per code.
inline float dot_u8_f32(const std::uint8_t* c, int zero, const float* x) {
  float sum = 0.0f;
  for (std::size_t j = 0; j < 16; ++j) sum += static_cast<float>(c[j] - zero) * x[j];
  return sum;
}

// Code j of 16 packed two per byte: value 2i in the low nibble of byte i when
// low_first (affine int4), in the high nibble otherwise (NF4).
inline int nibble(const std::uint8_t* bytes, std::size_t j, bool low_first) {
  const bool low = (j % 2 == 0) == low_first;
  return low ? bytes[j / 2] & 0x0F : bytes[j / 2] >> 4;
}

inline float dot_u4_f32(const std::uint8_t* bytes, int zero, const float* x) {
  float sum = 0.0f;
  for (std::size_t j = 0; j < 16; ++j)
    sum += static_cast<float>(nibble(bytes, j, true) - zero) * x[j];
  return sum;
}

inline float dot_nf4_f32(const std::uint8_t* bytes, const float* x) {
  float sum = 0.0f;
  for (std::size_t j = 0; j < 16; ++j)
    sum += nf4::code[static_cast<std::size_t>(nibble(bytes, j, false))] * x[j];
  return sum;
}

inline float dot_f16_f32(const fp16::half* w, const float* x, std::size_t n) {
  float sum = 0.0f;
  for (std::size_t c = 0; c < n; ++c) sum += fp16::to_float(w[c]) * x[c];
  return sum;
}

}  // namespace ref

}  // namespace memlab::qkernels
