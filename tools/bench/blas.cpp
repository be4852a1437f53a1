#include "blas.hpp"

#include <cblas.h>

#include <cmath>
#include <limits>

#include "attention/attention.hpp"
#include "base/kernels.hpp"
#include "base/measure.hpp"
#include "base/random.hpp"

namespace memlab::bench::blas {

std::string corename() {
  const char* name = openblas_get_corename();
  return name ? name : "unknown";
}

void set_threads(int n) { openblas_set_num_threads(n); }

tensor<3> naive_attention(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v, bool causal) {
  const attention::shape s = attention::check_shapes(q, k, v, causal);
  const int n_q = static_cast<int>(s.seq_q), n_kv = static_cast<int>(s.seq_kv);
  const int d = static_cast<int>(s.head_dim);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  auto scores = tensor<3>::from_shape({s.heads, s.seq_q, s.seq_kv});
  auto out = tensor<3>::from_shape({s.heads, s.seq_q, s.head_dim});
  auto head = [](const tensor<3>& t, std::size_t h) {
    return t.data() + h * t.shape(1) * t.shape(2);
  };
  for (std::size_t h = 0; h < s.heads; ++h) {
    const std::size_t g = h / s.group();
    float* sh = scores.data() + h * s.seq_q * s.seq_kv;
    // S = Q Kᵀ · scale
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n_q, n_kv, d, scale, head(q, h), d,
                head(k, g), d, 0.0f, sh, n_kv);
    // P = softmax(S), masked keys (causal, aligned to the end) at probability 0
    for (std::size_t i = 0; i < s.seq_q; ++i) {
      float* p = sh + i * s.seq_kv;
      const std::size_t seen = causal ? i + (s.seq_kv - s.seq_q) + 1 : s.seq_kv;
      const float sum = kernels::exp_shifted_sum(p, kernels::max_of(p, seen), seen);
      const float inv = 1.0f / sum;
      for (std::size_t j = 0; j < seen; ++j) p[j] *= inv;
      std::fill(p + seen, p + s.seq_kv, 0.0f);
    }
    // O = P V
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_q, d, n_kv, 1.0f, sh, n_kv, head(v, g),
                d, 0.0f, out.data() + h * s.seq_q * s.head_dim, d);
  }
  return out;
}

double sgemm_gflops(int n, int repeats) {
  const std::size_t size = static_cast<std::size_t>(n);
  rng gen(7);
  const tensor<2> a = random_normal<2>({size, size}, gen);
  const tensor<2> b = random_normal<2>({size, size}, gen);
  auto c = tensor<2>::from_shape({size, size});
  const double flops = 2.0 * n * static_cast<double>(n) * n;
  return measure(
             repeats,
             [&] {
               cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n,
                           b.data(), n, 0.0f, c.data(), n);
             },
             flops)
      .gflops;
}

}  // namespace memlab::bench::blas
