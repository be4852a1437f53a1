#include "precision/precision.hpp"

#include <cmath>
#include <limits>
#include <type_traits>
#include <xtensor/xbuilder.hpp>

#include "base/error.hpp"
#include "precision/bf16.hpp"
#include "quant/fp16.hpp"

namespace memlab::precision {
namespace {

// Reading and rounding in a format known at compile time, so the emulated
// kernels below have no switch in their inner loops.
template <format F>
struct in {
  static float round(float x) {
    if constexpr (F == format::fp32)
      return x;
    else if constexpr (F == format::fp16)
      return fp16::round_trip(x);
    else
      return bf16::round_trip(x);
  }
};

// Reading and writing a stored whose format is known at compile time.
template <format F>
float load(const stored& x, std::size_t i) {
  if constexpr (F == format::fp32)
    return x.full_data()[i];
  else if constexpr (F == format::fp16)
    return fp16::to_float(x.half_data()[i]);
  else
    return bf16::to_float(x.half_data()[i]);
}

template <format F>
void put(stored& x, std::size_t i, float value) {
  if constexpr (F == format::fp32)
    x.full_data()[i] = value;
  else if constexpr (F == format::fp16)
    x.half_data()[i] = fp16::from_float(value);
  else
    x.half_data()[i] = bf16::from_float(value);
}

const char* const names[] = {"fp32", "fp16", "bf16"};

}  // namespace

format parse_format(const std::string& text, const char* name) {
  for (int f = 0; f < 3; ++f)
    if (text == names[f]) return static_cast<format>(f);
  require(false, name, text, "fp32, fp16 or bf16");
  return format::fp32;
}

const char* format_name(format f) { return names[static_cast<int>(f)]; }

std::size_t bytes_per_value(format f) { return f == format::fp32 ? 4 : 2; }

int significant_bits(format f) { return f == format::fp32 ? 24 : f == format::fp16 ? 11 : 8; }

double unit_roundoff(format f) { return std::ldexp(1.0, -significant_bits(f)); }

double largest_finite(format f) {
  if (f == format::fp16) return 65504.0;
  if (f == format::bf16) return double(bf16::to_float(0x7F7F));
  return double(std::numeric_limits<float>::max());
}

float round(format f, float x) {
  switch (f) {
    case format::fp16:
      return in<format::fp16>::round(x);
    case format::bf16:
      return in<format::bf16>::round(x);
    default:
      return x;
  }
}

std::uint32_t bits(format f, float x) {
  switch (f) {
    case format::fp16:
      return fp16::from_float(x);
    case format::bf16:
      return bf16::from_float(x);
    default:
      return fp16::bits_of(x);
  }
}

stored::stored(format f, std::size_t n) : format_(f), size_(n) {
  if (f == format::fp32)
    full_.resize(n);
  else
    half_.resize(n);
}

stored::stored(format f, const float* x, std::size_t n) : stored(f, n) {
  for (std::size_t i = 0; i < n; ++i) set(i, x[i]);
}

float stored::get(std::size_t i) const {
  switch (format_) {
    case format::fp16:
      return fp16::to_float(half_[i]);
    case format::bf16:
      return bf16::to_float(half_[i]);
    default:
      return full_[i];
  }
}

void stored::set(std::size_t i, float x) {
  switch (format_) {
    case format::fp16:
      half_[i] = fp16::from_float(x);
      break;
    case format::bf16:
      half_[i] = bf16::from_float(x);
      break;
    default:
      full_[i] = x;
  }
}

void check_arithmetic(const arithmetic& a) {
  require(a.accumulate == format::fp32 || a.accumulate == a.storage, "accumulate",
          format_name(a.accumulate),
          [&] { return std::string("fp32 or the storage format ") + format_name(a.storage); });
}

namespace {

// One kernel per (storage S, accumulation A): every product and partial sum is
// rounded to A, every stored result to S.

template <format S, format A>
void matmul_kernel(const stored& a, const stored& b, std::size_t m, std::size_t k, std::size_t n,
                   stored& c) {
  using R = in<A>;
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      float sum = 0;
      for (std::size_t t = 0; t < k; ++t)
        sum = R::round(sum + R::round(load<S>(a, i * k + t) * load<S>(b, t * n + j)));
      put<S>(c, i * n + j, sum);
    }
}

template <format S, format A>
void attention_kernel(const stored& q, const stored& k, const stored& v, std::size_t heads,
                      std::size_t seq, std::size_t d, float scale, bool scale_after, bool causal,
                      stored& s, buffer<float>& e, stored& o) {
  using R = in<A>;
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < seq; ++i) {
      const std::size_t seen = causal ? i + 1 : seq;
      const std::size_t q_row = (h * seq + i) * d, s_row = (h * seq + i) * seq;
      // -- S = Q Kᵀ: each logit stored, then scaled and stored again ------------
      for (std::size_t j = 0; j < seen; ++j) {
        const std::size_t k_row = (h * seq + j) * d;
        float dot = 0;
        for (std::size_t c = 0; c < d; ++c)
          dot = R::round(dot + R::round(load<S>(q, q_row + c) * load<S>(k, k_row + c)));
        put<S>(s, s_row + j, dot);
        if (scale_after) put<S>(s, s_row + j, load<S>(s, s_row + j) * scale);
      }
      // -- P = softmax(S): exp in fp32, sums in A, P stored over S --------------
      // A logit stored as inf makes the max inf and inf - inf = NaN: the row is
      // NaN, as on the hardware.
      float max = -std::numeric_limits<float>::infinity();
      for (std::size_t j = 0; j < seen; ++j) max = std::max(max, load<S>(s, s_row + j));
      float sum = 0;
      for (std::size_t j = 0; j < seen; ++j) {
        e[j] = R::round(std::exp(R::round(load<S>(s, s_row + j) - max)));
        sum = R::round(sum + e[j]);
      }
      for (std::size_t j = 0; j < seen; ++j) put<S>(s, s_row + j, R::round(e[j] / sum));
      // -- O = P V --------------------------------------------------------------
      for (std::size_t c = 0; c < d; ++c) {
        float acc = 0;
        for (std::size_t j = 0; j < seen; ++j)
          acc = R::round(acc + R::round(load<S>(s, s_row + j) * load<S>(v, (h * seq + j) * d + c)));
        put<S>(o, q_row + c, acc);
      }
    }
}

// Calls fn(S, A) with the arithmetic's storage and accumulation formats as
// std::integral_constant<format, ...>, so that fn picks kernel<S, A> at compile time.
template <class Fn>
void dispatch(const arithmetic& how, Fn&& fn) {
  check_arithmetic(how);
  using fp32 = std::integral_constant<format, format::fp32>;
  using fp16 = std::integral_constant<format, format::fp16>;
  using bf16 = std::integral_constant<format, format::bf16>;
  const bool low = how.accumulate != format::fp32;
  switch (how.storage) {
    case format::fp16:
      return low ? fn(fp16{}, fp16{}) : fn(fp16{}, fp32{});
    case format::bf16:
      return low ? fn(bf16{}, bf16{}) : fn(bf16{}, fp32{});
    default:
      return fn(fp32{}, fp32{});
  }
}

template <std::size_t N>
tensor<N> decode(const stored& x, const std::array<std::size_t, N>& shape) {
  auto out = tensor<N>::from_shape(shape);
  for (std::size_t i = 0; i < x.size(); ++i) out.data()[i] = x.get(i);
  return out;
}

}  // namespace

tensor<2> matmul(const tensor<2>& a, const tensor<2>& b, const arithmetic& how) {
  check_arithmetic(how);
  const std::size_t m = a.shape(0), k = a.shape(1), n = b.shape(1);
  require(m > 0 && k > 0 && n > 0, "a.shape", shape_text(a.shape()), "[m, k], both at least 1");
  require(b.shape(0) == k, "b.shape", shape_text(b.shape()),
          [&] { return "[k, n] with k = " + std::to_string(k) + " as in a.shape"; });
  const stored as(how.storage, a.data(), a.size()), bs(how.storage, b.data(), b.size());
  stored c(how.storage, m * n);
  dispatch(how, [&](auto s, auto a) {
    matmul_kernel<decltype(s)::value, decltype(a)::value>(as, bs, m, k, n, c);
  });
  return decode<2>(c, {m, n});
}

tensor<3> attention(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v,
                    const attention_options& options) {
  check_arithmetic(options.how);
  const std::size_t heads = q.shape(0), seq = q.shape(1), d = q.shape(2);
  require(heads > 0 && seq > 0 && d > 0, "q.shape", shape_text(q.shape()),
          "[heads, seq, head_dim], all at least 1");
  require(k.shape() == q.shape(), "k.shape", shape_text(k.shape()),
          [&] { return "the same as q.shape = " + shape_text(q.shape()); });
  require(v.shape() == q.shape(), "v.shape", shape_text(v.shape()),
          [&] { return "the same as q.shape = " + shape_text(q.shape()); });
  const std::uint64_t scores = std::uint64_t{heads} * seq * seq;
  require(scores <= (std::uint64_t{1} << 28), "heads · seq²", scores, "at most 2^28 scores");

  const format f = options.how.storage;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  stored qs(f, q.data(), q.size());
  const stored ks(f, k.data(), k.size()), vs(f, v.data(), v.size());
  if (options.scale_first)  // Q · scale, an elementwise op whose result is stored in f
    for (std::size_t i = 0; i < qs.size(); ++i) qs.set(i, qs.get(i) * scale);
  stored s(f, heads * seq * seq), o(f, q.size());
  buffer<float> e(seq);  // one row of exponentials
  dispatch(options.how, [&](auto s_format, auto a_format) {
    attention_kernel<decltype(s_format)::value, decltype(a_format)::value>(
        qs, ks, vs, heads, seq, d, scale, !options.scale_first, options.causal, s, e, o);
  });
  return decode<3>(o, {heads, seq, d});
}

std::size_t attention_bytes(std::size_t heads, std::size_t seq, std::size_t head_dim, format f) {
  return (4 * heads * seq * head_dim + heads * seq * seq) * bytes_per_value(f) +
         seq * sizeof(float);
}

}  // namespace memlab::precision
