#include "attention/attention.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xnoalias.hpp>
#include <xtensor/xview.hpp>

#include "base/error.hpp"
#include "base/kernels.hpp"
#include "base/parallel.hpp"

namespace memlab::attention {
namespace {

using kernels::block_rows;

const float* row(const tensor<3>& t, std::size_t head, std::size_t i) {
  return t.data() + (head * t.shape(1) + i) * t.shape(2);
}

float* row(tensor<3>& t, std::size_t head, std::size_t i) {
  return t.data() + (head * t.shape(1) + i) * t.shape(2);
}

// Keys a query row sees: all seq_kv without a mask; with the end-aligned causal
// mask, query i (position i + seq_kv - seq_q) sees keys 0 .. i + seq_kv - seq_q.
std::size_t visible_keys(const shape& s, bool causal, std::size_t i) {
  return causal ? i + (s.seq_kv - s.seq_q) + 1 : s.seq_kv;
}

// A call's bytes and work against the limits, its sizes named.
void check_limits(const shape& s, count bytes, double work, const char* what) {
  const std::initializer_list<sized> sizes{{"heads", static_cast<long long>(s.heads)},
                                           {"seq_q", static_cast<long long>(s.seq_q)},
                                           {"seq_kv", static_cast<long long>(s.seq_kv)},
                                           {"head_dim", static_cast<long long>(s.head_dim)}};
  require_bytes(bytes, sizes, what);
  require_work(work, sizes, what);
}

// Finite inputs, and scores that fp32 holds: |q · k| / sqrt(d) is at most
// sqrt(d) · max |q| · max |k|, and an overflowing score would turn the softmax
// into NaN (inf - inf). The weighted sums of v stay within max |v|.
void check_inputs(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v) {
  require_finite(q.data(), q.size(), "q");
  require_finite(k.data(), k.size(), "k");
  require_finite(v.data(), v.size(), "v");
  const double bound =
      std::sqrt(static_cast<double>(q.shape(2))) * xt::amax(xt::abs(q))() * xt::amax(xt::abs(k))();
  require(bound <= std::numeric_limits<float>::max(), "max |q| · max |k| · sqrt(head_dim)", bound,
          "at most 3.4e+38, the largest score fp32 holds");
}

void check_blocks(const flash_options& options) {
  require(options.block_q > 0, "block_q", options.block_q, "at least 1 query row per tile");
  require(options.block_kv > 0, "block_kv", options.block_kv, "at least 1 key per tile");
}

}  // namespace

void check_shape(const shape& s, bool causal) {
  require(s.heads > 0, "heads", s.heads, "at least 1");
  require(s.seq_q > 0, "seq", s.seq_q, "at least 1 query");
  require(s.head_dim > 0, "head_dim", s.head_dim, "at least 1");
  require(s.kv_heads > 0, "kv_heads", s.kv_heads, "at least 1");
  require(s.heads % s.kv_heads == 0, "kv_heads", s.kv_heads,
          [&] { return "a divisor of " + named("heads", s.heads); });
  require(s.seq_kv > 0, "seq_kv", s.seq_kv, "at least 1 key");
  if (causal)
    require(s.seq_kv >= s.seq_q, "seq_kv", s.seq_kv, [&] {
      return "at least " + named("seq_q", s.seq_q) +
             " with a causal mask (every query must see a key)";
    });
}

shape check_shapes(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v, bool causal) {
  const shape s{q.shape(0), k.shape(0), q.shape(1), k.shape(1), q.shape(2)};
  check_shape(s, causal);
  require(
      k.shape(2) == s.head_dim, "k.shape", [&] { return shape_text(k.shape()); },
      [&] {
        return "head_dim " + std::to_string(s.head_dim) +
               " as in q.shape = " + shape_text(q.shape());
      });
  require(
      v.shape() == k.shape(), "v.shape", [&] { return shape_text(v.shape()); },
      [&] { return "the same as k.shape = " + shape_text(k.shape()); });
  return s;
}

tensor<3> naive(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v, bool causal,
                tensor<3>* probs_out, io_bytes* io) {
  const shape s = check_shapes(q, k, v, causal);
  check_inputs(q, k, v);
  check_limits(s, naive_bytes(s), work(s, causal, {causal, 1, s.seq_kv}), "naive attention");
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const std::size_t d = s.head_dim, n_q = s.seq_q, n_kv = s.seq_kv;

  // pass 1: S = Q Kᵀ · scale, every query head against the K head of its group.
  auto scores = tensor<3>::from_shape({s.heads, n_q, n_kv});
  for (std::size_t h = 0; h < s.heads; ++h) {
    if (io) io->load(n_q * d + n_kv * d), io->store(n_q * n_kv);  // Q, K in; S out
    for (std::size_t i = 0; i < n_q; ++i)
      kernels::scaled_dots(row(q, h, i), row(k, h / s.group(), 0), n_kv, d, scale,
                           &scores(h, i, 0));
  }

  // pass 2: P = softmax(S) along the keys, a row at a time, stable (each row's max
  // subtracted before exp); keys above the causal diagonal get probability 0.
  auto probs = tensor<3>::from_shape({s.heads, n_q, n_kv});
  for (std::size_t h = 0; h < s.heads; ++h) {
    if (io) io->load(n_q * n_kv), io->store(n_q * n_kv);  // S in, P out
    for (std::size_t i = 0; i < n_q; ++i) {
      const float* srow = &scores(h, i, 0);
      float* p = &probs(h, i, 0);
      const std::size_t seen = visible_keys(s, causal, i);
      std::copy(srow, srow + seen, p);
      const float inv_sum = 1.0f / kernels::exp_shifted_sum(p, kernels::max_of(p, seen), seen);
      for (std::size_t j = 0; j < seen; ++j) p[j] *= inv_sum;
      std::fill(p + seen, p + n_kv, 0.0f);
    }
  }

  // pass 3: O = P V
  tensor<3> out = xt::zeros<float>({s.heads, n_q, d});
  for (std::size_t h = 0; h < s.heads; ++h) {
    if (io) io->load(n_q * n_kv + n_kv * d), io->store(n_q * d);  // P, V in; O out
    kernels::matmul_accumulate(&probs(h, 0, 0), n_kv, n_q, n_kv, row(v, h / s.group(), 0), d,
                               row(out, h, 0), d, d);
  }
  if (probs_out) *probs_out = std::move(probs);
  return out;
}

tensor<3> flash(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v,
                const flash_options& options) {
  check_blocks(options);
  const shape s = check_shapes(q, k, v, options.causal);
  check_inputs(q, k, v);
  check_limits(s, flash_bytes(s, options), work(s, options.causal, options), "flash attention");
  return flash(q, tensor_kv(k, v), options);
}

namespace {

// What one worker of flash() writes besides the output: one tile of scores
// [block_q, block_kv] (kept transposed, [block_kv, block_q], on the many-rows
// path), per query row of the tile the running max m and running sum l, and the
// tile's queries transposed and scaled, qt [d, block_q] (many-rows path only).
struct flash_scratch {
  tensor<2> qt;
  buffer<float> scores;
  buffer<float> m, l;
  io_bytes io;  // this worker's share of the bytes moved, when counted
};

// After a Q tile's last K/V tile: O_i = o / l, stored, and L_i = m + log l if
// asked for (what the backward needs of the softmax).
void finish_q_tile(const flash_options& options, std::size_t h, std::size_t i0, std::size_t rows,
                   std::size_t d, const float* m, const float* l, float* o, io_bytes* io) {
  for (std::size_t i = 0; i < rows; ++i) {
    float* oi = o + i * d;
    const float inv_l = 1.0f / l[i];
    for (std::size_t c = 0; c < d; ++c) oi[c] *= inv_l;
  }
  if (io) io->store(rows * d);  // O_i
  if (options.logsumexp) {
    for (std::size_t i = 0; i < rows; ++i) (*options.logsumexp)(h, i0 + i) = m[i] + std::log(l[i]);
    if (io) io->store(rows);  // L_i
  }
}

// Loads and stores of T: a vector (W queries at once) or a float (one).
template <class T>
T load_as(const float* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
template <class T>
void store_as(float* p, const T& v) {
  std::memcpy(p, &v, sizeof v);
}
inline float lane(float v, std::size_t) { return v; }
template <class V>
float lane(const V& v, std::size_t i) {
  return v[i];
}

// One chunk of W = sizeof(T) / 4 query columns of the online softmax over a
// tile of scores kept transposed, st[j · ld + i] = s(query i, key j), keys
// j < cols, in place:
//   m'_i = max(m_i, max_j s_ij),   c_i = e^(m_i - m'_i),   p_ij = e^(s_ij - m'_i),
//   l'_i = l_i · c_i + Σ_j p_ij,   o_i := o_i · c_i   (the P V of this tile comes next)
// Every step runs down the tile's rows with the W queries side by side in the
// lanes of T: no horizontal max or sum. On a tile the causal mask crosses, key
// j is hidden from its first hidden(j) queries: their p is exactly 0. No
// exponent is ever positive, so logits of any size cannot overflow.
template <class T, class Hidden>
void softmax_columns(float* st, std::size_t ld, std::size_t cols, float* m, float* l, float* o,
                     std::size_t d, bool masked, Hidden hidden) {
  constexpr std::size_t W = sizeof(T) / sizeof(float);
  if (masked)  // hidden scores at -inf, so that they never set the max
    for (std::size_t j = 0; j < cols; ++j)
      std::fill_n(st + j * ld, hidden(j), -std::numeric_limits<float>::infinity());
  // Rows by a running pointer: emscripten's clang (-mllvm -disable-lsr) would
  // multiply j · ld anew for every row.
  float* const end = st + cols * ld;
  // -- the new maxima and the corrections
  const T m_old = load_as<T>(m);
  T m_new = m_old;
  for (const float* sj = st; sj != end; sj += ld)
    m_new = kernels::greater_of(m_new, load_as<T>(sj));
  const T corr = kernels::exp_approx(m_old - m_new);  // ~0 on the first tile (m = -inf)
  // -- probabilities and their sums
  T sum{};
  for (float* sj = st; sj != end; sj += ld) {
    const T p = kernels::exp_approx(load_as<T>(sj) - m_new);
    store_as(sj, p);
    sum += p;
  }
  if (masked) {  // exp_approx clamps -inf to e^-87, not 0: zero them, sum again
    sum = T{};
    for (std::size_t j = 0; j < cols; ++j) {
      std::fill_n(st + j * ld, hidden(j), 0.0f);
      sum += load_as<T>(st + j * ld);
    }
  }
  // -- update the statistics, rescale the output rows
  store_as(l, load_as<T>(l) * corr + sum);
  store_as(m, m_new);
  for (std::size_t i = 0; i < W; ++i) {
    // Once a row's max has settled (most tiles after the first few) its
    // correction is exactly 1 (exp_approx(0) = 1): nothing to rescale.
    const float c = lane(corr, i);
    if (c == 1.0f) continue;
    float* oi = o + i * d;
    for (std::size_t x = 0; x < d; ++x) oi[x] *= c;
  }
}

// Many query rows (at least a register block): the tile's scores are computed
// transposed, Sᵀ = K_tile · (scale · Q_tile)ᵀ, so that K is read by rows as it
// is stored (no K tile to transpose for every Q tile: Q is transposed once per
// Q tile instead), the online softmax runs along lanes of queries, and
// O += P V reads P from Sᵀ by columns.
void flash_q_tile_transposed(const tensor<3>& q, const kv_source& kv, const shape& s,
                             const flash_options& options, std::size_t h, std::size_t i0,
                             std::size_t rows, flash_scratch& scratch, tensor<3>& out) {
  const std::size_t d = s.head_dim;
  const std::size_t br = scratch.qt.shape(1);
  const std::size_t bc = scratch.scores.size() / br;
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const std::size_t g = h / s.group();
  float* const qt = scratch.qt.data();
  float* const st = scratch.scores.data();  // [cols, rows] with row stride br
  float* const m = scratch.m.data();
  float* const l = scratch.l.data();
  float* const o = row(out, h, i0);
  io_bytes* const io = options.io ? &scratch.io : nullptr;
  if (io) io->load(rows * d);  // Q_i
  for (std::size_t i = 0; i < rows; ++i) {
    const float* qi = row(q, h, i0 + i);
    for (std::size_t c = 0; c < d; ++c) qt[c * br + i] = scale * qi[c];
  }
  std::fill_n(m, rows, -std::numeric_limits<float>::infinity());
  std::fill_n(l, rows, 0.0f);
  // The last query row of the tile sees the most keys; tiles past them are
  // entirely above the causal diagonal and skipped.
  const std::size_t kv_end = std::min(s.seq_kv, visible_keys(s, options.causal, i0 + rows - 1));
  // Key j0 + j is hidden from the tile's queries i < j0 + j - (i0 + seq_kv - seq_q).
  const std::size_t first_position = i0 + (s.seq_kv - s.seq_q);
  std::size_t cols = 0;
  for (std::size_t j0 = 0; j0 < kv_end; j0 += cols) {
    cols = std::min({bc, s.seq_kv - j0, kv.contiguous(j0)});
    if (io) io->load(2 * cols * d);  // K_j, V_j
    // -- compute Sᵀ = K_tile Qᵀ (scaled)
    for (std::size_t j = 0; j < cols; ++j) std::fill_n(st + j * br, rows, 0.0f);
    if (const float* k_columns = kv.k_transposed(g, j0))
      kernels::matmul_at_accumulate(k_columns, kv.k_transposed_stride(), cols, d, qt, br, st, br,
                                    rows);
    else
      kernels::matmul_accumulate(kv.k(g, j0), d, cols, d, qt, br, st, br, rows);

    // -- online softmax, a vector of queries at a time
    const bool masked = options.causal && j0 + cols > first_position + 1;
    for (std::size_t c0 = 0; c0 < rows;) {
      auto hidden = [&](std::size_t j) {
        const std::size_t key = j0 + j;
        return key > first_position + c0 ? std::min(key - first_position - c0, rows - c0) : 0;
      };
      using vector = kernels::vfloat_register;
      constexpr std::size_t W = sizeof(vector) / sizeof(float);
      if (c0 + W <= rows) {
        softmax_columns<vector>(st + c0, br, cols, m + c0, l + c0, o + c0 * d, d, masked,
                                [&](std::size_t j) { return std::min(hidden(j), W); });
        c0 += W;
      } else {
        softmax_columns<float>(st + c0, br, cols, m + c0, l + c0, o + c0 * d, d, masked,
                               [&](std::size_t j) { return std::min<std::size_t>(hidden(j), 1); });
        c0 += 1;
      }
    }
    // -- O += P V, P read from Sᵀ
    kernels::matmul_at_accumulate(st, br, rows, cols, kv.v(g, j0), d, o, d, d);
  }
  finish_q_tile(options, h, i0, rows, d, m, l, o, io);
}

// Few query rows (decoding one or a few tokens): scores row by row, [rows, bc],
// straight off K's rows or from K kept transposed by a cache.
void flash_q_tile_rows(const tensor<3>& q, const kv_source& kv, const shape& s,
                       const flash_options& options, std::size_t h, std::size_t i0,
                       std::size_t rows, flash_scratch& scratch, tensor<3>& out) {
  const std::size_t d = s.head_dim;
  const std::size_t bc = std::min(options.block_kv, s.seq_kv);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  const std::size_t g = h / s.group();
  float* const scores = scratch.scores.data();
  float* const m = scratch.m.data();
  float* const l = scratch.l.data();
  io_bytes* const io = options.io ? &scratch.io : nullptr;
  if (io) io->load(rows * d);  // Q_i
  std::fill_n(m, rows, -std::numeric_limits<float>::infinity());
  std::fill_n(l, rows, 0.0f);
  const std::size_t kv_end = std::min(s.seq_kv, visible_keys(s, options.causal, i0 + rows - 1));
  std::size_t cols = 0;
  for (std::size_t j0 = 0; j0 < kv_end; j0 += cols) {
    cols = std::min({bc, s.seq_kv - j0, kv.contiguous(j0)});
    if (io) io->load(2 * cols * d);  // K_j, V_j
    if (const float* k_columns = kv.k_transposed(g, j0)) {
      kernels::tile_scores(row(q, h, i0), rows, d, k_columns, kv.k_transposed_stride(), cols, scale,
                           scores, bc);
    } else {
      for (std::size_t r = 0; r < rows; ++r)
        kernels::scaled_dots(row(q, h, i0 + r), kv.k(g, j0), cols, d, scale, scores + r * bc);
    }

    // Online softmax, row by row. With m' = max(m, max_j s_j):
    //   l' = l · e^(m - m') + Σ_j e^(s_j - m'),   o' = o · e^(m - m') + Σ_j e^(s_j - m') v_j
    // so o / l after the last tile equals softmax(s) · V over all keys, and no
    // exponent is ever positive (no overflow for logits of any size).
    for (std::size_t r = 0; r < rows; ++r) {
      float* p = scores + r * bc;
      const std::size_t seen = visible_keys(s, options.causal, i0 + r);
      const std::size_t n = seen > j0 ? std::min(cols, seen - j0) : 0;  // unmasked keys
      std::fill(p + n, p + cols, 0.0f);  // masked keys get probability 0
      if (n == 0) continue;              // nothing new for this row: m, l, o unchanged
      const float m_new = std::max(m[r], kernels::max_of(p, n));
      const float correction = std::exp(m[r] - m_new);  // 0 on the row's first tile
      l[r] = l[r] * correction + kernels::exp_shifted_sum(p, m_new, n);
      m[r] = m_new;
      if (correction != 1.0f) {
        float* o = row(out, h, i0 + r);
        for (std::size_t c = 0; c < d; ++c) o[c] *= correction;
      }
    }
    kernels::matmul_accumulate(scores, bc, rows, cols, kv.v(g, j0), d, row(out, h, i0), d, d);
  }
  finish_q_tile(options, h, i0, rows, d, m, l, row(out, h, i0), io);
}

}  // namespace

tensor<3> flash(const tensor<3>& q, const kv_source& kv, const flash_options& options) {
  check_blocks(options);
  const shape s{q.shape(0), kv.kv_heads(), q.shape(1), kv.seq(), q.shape(2)};
  check_shape(s, options.causal);
  require(kv.head_dim() == s.head_dim, "kv head_dim", kv.head_dim(), [&] {
    return "head_dim " + std::to_string(s.head_dim) + " as in q.shape = " + shape_text(q.shape());
  });
  const std::size_t d = s.head_dim;
  const std::size_t br = std::min(options.block_q, s.seq_q);
  const std::size_t bc = std::min(options.block_kv, s.seq_kv);
  const std::size_t q_tiles = (s.seq_q + br - 1) / br;

  tensor<3> out = xt::zeros<float>({s.heads, s.seq_q, d});
  if (options.logsumexp) *options.logsumexp = tensor<2>::from_shape({s.heads, s.seq_q});
  // Every (head, Q tile) pair is a task of its own, writing only its rows of
  // out (and of L): any number of threads computes the same bits. Bytes moved
  // are counted per worker and added up after. Each worker has its own
  // scratch, allocated here (workers must not allocate). Tiles of at least a
  // register block of query rows take the transposed path (the first tile has
  // the most rows), which needs Q tiles transposed.
  const bool transposed = br >= block_rows;
  const std::size_t tasks = s.heads * q_tiles;
  const std::size_t workers =
      std::min<std::size_t>(static_cast<std::size_t>(parallel::threads()), tasks);
  std::vector<flash_scratch> scratch(workers);
  for (auto& w : scratch) {
    if (transposed) w.qt = tensor<2>::from_shape({d, br});
    w.scores = buffer<float>(br * bc);
    w.m = buffer<float>(br);
    w.l = buffer<float>(br);
  }
  parallel::for_each(tasks, [&](std::size_t task, int worker) {
    const std::size_t h = task / q_tiles, i0 = (task % q_tiles) * br;
    const std::size_t rows = std::min(br, s.seq_q - i0);
    auto& w = scratch[static_cast<std::size_t>(worker)];
    if (rows >= block_rows)
      flash_q_tile_transposed(q, kv, s, options, h, i0, rows, w, out);
    else
      flash_q_tile_rows(q, kv, s, options, h, i0, rows, w, out);
  });
  if (options.io)
    for (const auto& w : scratch) {
      options.io->read += w.io.read;
      options.io->written += w.io.written;
    }
  return out;
}

std::size_t flash_tiles_visited(const shape& s, const flash_options& options) {
  check_blocks(options);
  const std::size_t br = std::min(options.block_q, s.seq_q);
  const std::size_t bc = std::min(options.block_kv, s.seq_kv);
  std::size_t tiles = 0;
  for (std::size_t i0 = 0; i0 < s.seq_q; i0 += br) {
    const std::size_t rows = std::min(br, s.seq_q - i0);
    const std::size_t kv_end = std::min(s.seq_kv, visible_keys(s, options.causal, i0 + rows - 1));
    tiles += (kv_end + bc - 1) / bc;
  }
  return tiles * s.heads;
}

std::uint64_t kv_bytes(count kv_heads, count seq, count head_dim) {
  return (count(2) * kv_heads * seq * head_dim * sizeof(float)).value();
}

count naive_bytes(const shape& s) {
  const count rows = count(s.heads) * s.seq_q;
  return (count(2) * rows * s.seq_kv + rows * s.head_dim) * sizeof(float);
}

count flash_bytes(const shape& s, const flash_options& options) {
  const count br = std::min(options.block_q, s.seq_q), bc = std::min(options.block_kv, s.seq_kv);
  return (count(s.heads) * s.seq_q * s.head_dim + br * bc + count(2) * br + bc * s.head_dim) *
         sizeof(float);
}

double work(const shape& s, bool causal, const flash_options& options) {
  const double pairs = flops(s, causal) / (4.0 * static_cast<double>(s.head_dim));
  const double br =
      static_cast<double>(std::max<std::size_t>(1, std::min(options.block_q, s.seq_q)));
  const double bc =
      static_cast<double>(std::max<std::size_t>(1, std::min(options.block_kv, s.seq_kv)));
  const double tiles = pairs / (br * bc) + static_cast<double>(s.heads) * s.seq_q / br;
  return flops(s, causal) + 24 * pairs + 500 * tiles;
}

double flops(const shape& s, bool causal) {
  // Keys seen summed over the queries: seq_q · seq_kv, or with the end-aligned
  // mask sum_i (i + seq_kv - seq_q + 1) = seq_q · (seq_kv - seq_q + 1) + seq_q (seq_q - 1) / 2.
  const double q = static_cast<double>(s.seq_q), kv = static_cast<double>(s.seq_kv);
  const double pairs = causal ? q * (kv - q + 1) + q * (q - 1) / 2 : q * kv;
  return 4.0 * static_cast<double>(s.heads) * pairs * static_cast<double>(s.head_dim);
}

}  // namespace memlab::attention
