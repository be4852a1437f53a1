#include "attention/flash_backward.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>
#include <xtensor/xbuilder.hpp>

#include "base/error.hpp"
#include "base/kernels.hpp"
#include "base/parallel.hpp"

namespace memlab::attention {
namespace {

const float* row(const tensor<3>& t, std::size_t head, std::size_t i) {
  return t.data() + (head * t.shape(1) + i) * t.shape(2);
}

float* row(tensor<3>& t, std::size_t head, std::size_t i) {
  return t.data() + (head * t.shape(1) + i) * t.shape(2);
}

// t[c, r] = a[r, c] for r < rows, c < cols; a has row stride lda, t row stride ldt.
void transpose(const float* a, std::size_t lda, std::size_t rows, std::size_t cols, float* t,
               std::size_t ldt) {
  for (std::size_t r = 0; r < rows; ++r)
    for (std::size_t c = 0; c < cols; ++c) t[c * ldt + r] = a[r * lda + c];
}

// C [cols, d] += Aᵀ B for A [rows, cols] (row stride lda) and B [rows, d]: A is
// transposed into t ([cols, rows]) first, so that the product runs on
// matmul_accumulate's register tiles (rows · cols moves for rows · cols · d
// multiply-adds).
void add_at_b(const float* a, std::size_t lda, std::size_t rows, std::size_t cols, const float* b,
              std::size_t d, float* c, float* t) {
  transpose(a, lda, rows, cols, t, rows);
  kernels::matmul_accumulate(t, rows, cols, rows, b, d, c, d, d);
}

void require_shape(const tensor<3>& t, const char* name, const tensor<3>& like,
                   const char* like_name) {
  require(t.shape() == like.shape(), name, shape_text(t.shape()), [&] {
    return "the same as " + std::string(like_name) + " = " + shape_text(like.shape());
  });
}

gradients zero_gradients(const tensor<3>& q, const tensor<3>& k) {
  return {xt::zeros<float>(q.shape()), xt::zeros<float>(k.shape()), xt::zeros<float>(k.shape())};
}

}  // namespace

gradients naive_backward(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v,
                         const tensor<3>& probs, const tensor<3>& dout, io_bytes* io) {
  const shape s = check_shapes(q, k, v, false);
  const std::size_t d = s.head_dim, n_q = s.seq_q, n_kv = s.seq_kv;
  const std::array<std::size_t, 3> p_shape{s.heads, n_q, n_kv};
  require(std::equal(p_shape.begin(), p_shape.end(), probs.shape().begin()), "probs.shape",
          shape_text(probs.shape()),
          [&] { return "[heads, seq_q, seq_kv] = " + shape_text(p_shape); });
  require_shape(dout, "dout.shape", q, "q.shape");
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const std::size_t panel = std::min(naive_backward_panel, n_q);

  gradients g = zero_gradients(q, k);
  auto ds = tensor<3>::from_shape({s.heads, n_q, n_kv});  // dP, then dS in place
  auto t = tensor<2>::from_shape({n_kv, panel});          // a panel of P or dS, transposed
  for (std::size_t h = 0; h < s.heads; ++h) {
    const std::size_t kv = h / s.group();
    const bool first_of_group = h % s.group() == 0;  // dK, dV of this KV head still zero
    const float* p = &probs(h, 0, 0);
    float* dsh = &ds(h, 0, 0);

    // pass 1: dV += Pᵀ dO
    if (io) io->load(n_q * n_kv + n_q * d + (first_of_group ? 0 : n_kv * d)), io->store(n_kv * d);
    for (std::size_t i0 = 0; i0 < n_q; i0 += panel)
      add_at_b(p + i0 * n_kv, n_kv, std::min(panel, n_q - i0), n_kv, row(dout, h, i0), d,
               row(g.dv, kv, 0), t.data());

    // pass 2: dP = dO Vᵀ
    if (io) io->load(n_q * d + n_kv * d), io->store(n_q * n_kv);
    for (std::size_t i = 0; i < n_q; ++i)
      kernels::scaled_dots(row(dout, h, i), row(v, kv, 0), n_kv, d, 1.0f, dsh + i * n_kv);

    // pass 3: dS = P ∘ (dP − rowsum(P ∘ dP)) · scale, a row at a time (the scale
    // of S = Q Kᵀ · scale folded in once for dQ and dK)
    if (io) io->load(2 * n_q * n_kv), io->store(n_q * n_kv);
    for (std::size_t i = 0; i < n_q; ++i) {
      const float* pi = p + i * n_kv;
      float* di = dsh + i * n_kv;
      float weighted = 0.0f;
      for (std::size_t j = 0; j < n_kv; ++j) weighted += pi[j] * di[j];
      for (std::size_t j = 0; j < n_kv; ++j) di[j] = pi[j] * (di[j] - weighted) * scale;
    }

    // pass 4: dQ = dS K
    if (io) io->load(n_q * n_kv + n_kv * d), io->store(n_q * d);
    kernels::matmul_accumulate(dsh, n_kv, n_q, n_kv, row(k, kv, 0), d, row(g.dq, h, 0), d, d);

    // pass 5: dK += dSᵀ Q
    if (io) io->load(n_q * n_kv + n_q * d + (first_of_group ? 0 : n_kv * d)), io->store(n_kv * d);
    for (std::size_t i0 = 0; i0 < n_q; i0 += panel)
      add_at_b(dsh + i0 * n_kv, n_kv, std::min(panel, n_q - i0), n_kv, row(q, h, i0), d,
               row(g.dk, kv, 0), t.data());
  }
  return g;
}

gradients flash_backward(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v,
                         const tensor<3>& out, const tensor<2>& logsumexp, const tensor<3>& dout,
                         const flash_options& options) {
  require(options.block_q > 0, "block_q", options.block_q, "at least 1 query row per tile");
  require(options.block_kv > 0, "block_kv", options.block_kv, "at least 1 key per tile");
  const shape s = check_shapes(q, k, v, options.causal);
  require_shape(out, "out.shape", q, "q.shape");
  require_shape(dout, "dout.shape", q, "q.shape");
  const std::array<std::size_t, 2> l_shape{s.heads, s.seq_q};
  require(std::equal(l_shape.begin(), l_shape.end(), logsumexp.shape().begin()), "logsumexp.shape",
          shape_text(logsumexp.shape()), [&] { return "[heads, seq_q] = " + shape_text(l_shape); });
  const std::size_t d = s.head_dim;
  const std::size_t br = std::min(options.block_q, s.seq_q);
  const std::size_t bc = std::min(options.block_kv, s.seq_kv);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  // Keys query row i sees: all, or under the end-aligned causal mask those up to
  // its position i + seq_kv − seq_q.
  auto visible = [&](std::size_t i) {
    return options.causal ? i + (s.seq_kv - s.seq_q) + 1 : s.seq_kv;
  };
  gradients g = zero_gradients(q, k);

  // pass 1: D_i = dO_i · O_i (= rowsum(P ∘ dP) of row i)
  auto delta = tensor<2>::from_shape({s.heads, s.seq_q});
  if (options.io) options.io->load(2 * s.heads * s.seq_q * d), options.io->store(s.heads * s.seq_q);
  for (std::size_t h = 0; h < s.heads; ++h)
    for (std::size_t i = 0; i < s.seq_q; ++i)
      delta(h, i) = kernels::dot(row(dout, h, i), row(out, h, i), d);

  // The scratch, all tile-sized: K_j and V_j transposed, P and dP (dS in place)
  // of one tile, and one of them transposed for the Aᵀ B products; one set per
  // worker, allocated here (workers must not allocate), with the worker's share
  // of the bytes moved.
  struct scratch_set {
    tensor<2> kt, vt, p, ds, t;
    io_bytes io;
  };
  // pass 2 runs one KV head per task: a task owns dK and dV of its KV head and
  // dQ of the query heads of its group, so any number of threads computes the
  // same bits (the tests check 1 and 2). MQA (one KV head) runs on one thread.
  const std::size_t workers =
      std::min<std::size_t>(static_cast<std::size_t>(parallel::threads()), s.kv_heads);
  std::vector<scratch_set> scratch(workers);
  for (auto& w : scratch) {
    w.kt = tensor<2>::from_shape({d, bc});
    w.vt = tensor<2>::from_shape({d, bc});
    w.p = tensor<2>::from_shape({br, bc});
    w.ds = tensor<2>::from_shape({br, bc});
    w.t = tensor<2>::from_shape({bc, br});
  }

  // pass 2: K/V tiles outer, so that dK_j and dV_j are complete when the loop
  // leaves the tile: each is stored once, summed over the query heads of the group.
  parallel::for_each(s.kv_heads, [&](std::size_t kv, int worker) {
    scratch_set& w = scratch[static_cast<std::size_t>(worker)];
    io_bytes* const io = options.io ? &w.io : nullptr;
    tensor<2>&kt = w.kt, &vt = w.vt, &p = w.p, &ds = w.ds, &t = w.t;
    for (std::size_t j0 = 0; j0 < s.seq_kv; j0 += bc) {
      const std::size_t cols = std::min(bc, s.seq_kv - j0);
      if (io) io->load(2 * cols * d);  // K_j, V_j
      transpose(row(k, kv, j0), d, cols, d, kt.data(), bc);
      transpose(row(v, kv, j0), d, cols, d, vt.data(), bc);
      float* dk_j = row(g.dk, kv, j0);
      float* dv_j = row(g.dv, kv, j0);

      for (std::size_t h = kv * s.group(); h < (kv + 1) * s.group(); ++h) {
        for (std::size_t i0 = 0; i0 < s.seq_q; i0 += br) {
          const std::size_t rows = std::min(br, s.seq_q - i0);
          if (visible(i0 + rows - 1) <= j0) continue;  // the tile lies above the diagonal
          // Q_i, dO_i, L_i, D_i in; dQ_i in (from its second visit on) and out.
          if (io) io->load(rows * (2 * d + 2) + (j0 > 0 ? rows * d : 0)), io->store(rows * d);
          const float* q_i = row(q, h, i0);
          const float* do_i = row(dout, h, i0);

          // -- recompute P = exp(S − L): the forward's softmax, normalised ----
          for (std::size_t r = 0; r < rows; ++r) std::fill_n(&p(r, 0), cols, 0.0f);
          kernels::matmul_accumulate(q_i, d, rows, d, kt.data(), bc, p.data(), bc, cols);
          for (std::size_t r = 0; r < rows; ++r) {
            const std::size_t seen = visible(i0 + r);
            const std::size_t n = seen > j0 ? std::min(cols, seen - j0) : 0;  // unmasked keys
            const float l = logsumexp(h, i0 + r);
            float* pr = &p(r, 0);
            for (std::size_t c = 0; c < n; ++c) pr[c] = kernels::exp_approx(pr[c] * scale - l);
            std::fill(pr + n, pr + cols, 0.0f);
          }

          // -- dV_j += Pᵀ dO_i ----
          add_at_b(p.data(), bc, rows, cols, do_i, d, dv_j, t.data());

          // -- dP = dO_i V_jᵀ, then dS = P ∘ (dP − D_i) · scale in place ----
          for (std::size_t r = 0; r < rows; ++r) std::fill_n(&ds(r, 0), cols, 0.0f);
          kernels::matmul_accumulate(do_i, d, rows, d, vt.data(), bc, ds.data(), bc, cols);
          for (std::size_t r = 0; r < rows; ++r) {
            const float d_i = delta(h, i0 + r);
            for (std::size_t c = 0; c < cols; ++c) ds(r, c) = p(r, c) * (ds(r, c) - d_i) * scale;
          }

          // -- dQ_i += dS K_j,  dK_j += dSᵀ Q_i ----
          kernels::matmul_accumulate(ds.data(), bc, rows, cols, row(k, kv, j0), d, row(g.dq, h, i0),
                                     d, d);
          add_at_b(ds.data(), bc, rows, cols, q_i, d, dk_j, t.data());
        }
      }
      if (io) io->store(2 * cols * d);  // dK_j, dV_j
    }
  });
  if (options.io)
    for (const auto& w : scratch) {
      options.io->read += w.io.read;
      options.io->written += w.io.written;
    }
  return g;
}

}  // namespace memlab::attention
