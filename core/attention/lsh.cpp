#include "attention/lsh.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <xtensor/xbuilder.hpp>

#include "base/error.hpp"
#include "base/kernels.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"

namespace memlab::attention {
namespace {

const float* row(const tensor<3>& t, std::size_t head, std::size_t i) {
  return t.data() + (head * t.shape(1) + i) * t.shape(2);
}

float* row(tensor<3>& t, std::size_t head, std::size_t i) {
  return t.data() + (head * t.shape(1) + i) * t.shape(2);
}

// Sorted positions are 32-bit: seq is bounded well below 2^32.
constexpr std::uint64_t max_seq = std::uint64_t{1} << 30;

void check_lsh_inputs(const tensor<3>& qk, const tensor<3>& v) {
  require(qk.shape(0) > 0 && qk.shape(1) > 0 && qk.shape(2) > 0, "qk.shape", shape_text(qk.shape()),
          "[heads, seq, head_dim], all at least 1");
  require(qk.shape(1) <= max_seq, "seq", qk.shape(1), "at most 2^30 positions");
  require(v.shape() == qk.shape(), "v.shape", shape_text(v.shape()),
          [&] { return "the same as qk.shape = " + shape_text(qk.shape()); });
}

// 1 / sqrt(|x|² + head_dim · 1e-6): trax's length_normalized (x / sqrt(mean(x²) +
// 1e-6)) followed by its division by sqrt(head_dim), as one factor.
float inverse_key_norm(const float* x, std::size_t d) {
  double sum = 0;
  for (std::size_t c = 0; c < d; ++c) sum += double(x[c]) * x[c];
  return static_cast<float>(1.0 / std::sqrt(sum + 1e-6 * double(d)));
}

// Counting sort of positions by bucket: count each bucket, then place the
// positions in increasing order, so ties keep sequence order (stable) and the
// order is by (bucket, position). O(seq + n_buckets). start holds n_buckets + 1
// counters.
void sort_by_bucket(const std::uint32_t* buckets, std::size_t seq, std::size_t n_buckets,
                    std::uint32_t* start, std::uint32_t* order) {
  std::fill_n(start, n_buckets + 1, 0u);
  for (std::size_t p = 0; p < seq; ++p) ++start[buckets[p] + 1];
  for (std::size_t b = 0; b < n_buckets; ++b) start[b + 1] += start[b];
  for (std::size_t p = 0; p < seq; ++p) order[start[buckets[p]]++] = static_cast<std::uint32_t>(p);
}

// bucket of x under rotation r [d, half]: argmax([xR, -xR]), the first on ties.
// Column b of [xR, -xR] is (xR)_b for b < half and -(xR)_{b - half} after, so the
// first largest of xR and the first largest of -xR decide, xR winning a tie. The
// projections (half doubles of scratch) are summed in double, c ascending, with b
// innermost (contiguous in r, so the loop vectorizes): the same rotation gives the
// same bucket natively and in wasm.
std::uint32_t bucket_of(const float* x, const float* r, std::size_t d, std::size_t half,
                        double* projections) {
  if (half == 0) return 0;  // one bucket
  std::fill_n(projections, half, 0.0);
  for (std::size_t c = 0; c < d; ++c) {
    const double xc = x[c];
    const float* rc = r + c * half;
    for (std::size_t b = 0; b < half; ++b) projections[b] += xc * rc[b];
  }
  std::uint32_t best_plus = 0, best_minus = 0;
  for (std::size_t b = 1; b < half; ++b) {
    if (projections[b] > projections[best_plus]) best_plus = static_cast<std::uint32_t>(b);
    if (projections[b] < projections[best_minus]) best_minus = static_cast<std::uint32_t>(b);
  }
  return projections[best_plus] >= -projections[best_minus]
             ? best_plus
             : static_cast<std::uint32_t>(half + best_minus);
}

}  // namespace

void check_lsh_options(const lsh_options& o) {
  require(o.n_buckets == 1 || (o.n_buckets % 2 == 0 && o.n_buckets >= 2), "n_buckets", o.n_buckets,
          "1 or an even number (argmax over [xR, -xR] gives pairs of buckets)");
  require(o.n_buckets <= 65536, "n_buckets", o.n_buckets, "at most 65536");
  require(o.n_rounds >= 1 && o.n_rounds <= 64, "n_rounds", o.n_rounds, "in [1, 64]");
  require(o.chunk >= 1, "chunk", o.chunk, "at least 1 position per chunk");
}

tensor<4> lsh_rotations(std::size_t heads, std::size_t head_dim, const lsh_options& o) {
  check_lsh_options(o);
  // (count: the product saturates instead of wrapping past 2^64.)
  const std::uint64_t values = (count(heads) * o.n_rounds * head_dim * (o.n_buckets / 2)).value();
  require(values <= (std::uint64_t{1} << 28), "heads · n_rounds · head_dim · n_buckets / 2", values,
          "at most 2^28 rotation values");
  rng gen(o.seed);
  return random_normal<4>({heads, o.n_rounds, head_dim, o.n_buckets / 2}, gen);
}

std::uint32_t lsh_bucket(const float* x, const float* r, std::size_t d, std::size_t n_buckets) {
  buffer<double> projections(n_buckets / 2);
  return bucket_of(x, r, d, n_buckets / 2, projections.data());
}

buffer<std::uint32_t> lsh_buckets(const tensor<3>& qk, const lsh_options& o) {
  check_lsh_inputs(qk, qk);
  const std::size_t heads = qk.shape(0), seq = qk.shape(1), d = qk.shape(2);
  const tensor<4> rotations = lsh_rotations(heads, d, o);
  const std::size_t rotation_size = d * (o.n_buckets / 2);
  buffer<std::uint32_t> buckets(heads * o.n_rounds * seq);
  buffer<double> projections(o.n_buckets / 2);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t r = 0; r < o.n_rounds; ++r) {
      const float* rotation = rotations.data() + (h * o.n_rounds + r) * rotation_size;
      for (std::size_t p = 0; p < seq; ++p)
        buckets[(h * o.n_rounds + r) * seq + p] =
            bucket_of(row(qk, h, p), rotation, d, o.n_buckets / 2, projections.data());
    }
  return buckets;
}

buffer<std::uint32_t> lsh_sort(const std::uint32_t* buckets, std::size_t seq,
                               std::size_t n_buckets) {
  require(seq <= max_seq, "seq", seq, "at most 2^30 positions");
  for (std::size_t p = 0; p < seq; ++p)
    require(buckets[p] < n_buckets, "bucket", buckets[p],
            [&] { return "below " + named("n_buckets", n_buckets); });
  buffer<std::uint32_t> start(n_buckets + 1), order(seq);
  sort_by_bucket(buckets, seq, n_buckets, start.data(), order.data());
  return order;
}

buffer<std::uint32_t> lsh_unsort(const buffer<std::uint32_t>& order) {
  buffer<std::uint32_t> undo(order.size());
  for (std::size_t k = 0; k < order.size(); ++k) undo[order[k]] = static_cast<std::uint32_t>(k);
  return undo;
}

tensor<3> lsh(const tensor<3>& qk, const tensor<3>& v, const lsh_options& o) {
  check_lsh_inputs(qk, v);
  check_lsh_options(o);
  const std::size_t heads = qk.shape(0), seq = qk.shape(1), d = qk.shape(2);
  const std::size_t rounds = o.n_rounds;
  const std::size_t chunk = std::min(o.chunk, seq);
  const std::size_t window = std::min(2 * chunk, seq);  // keys a chunk sees at most

  const tensor<4> rotations = lsh_rotations(heads, d, o);
  const std::size_t rotation_size = d * (o.n_buckets / 2);

  tensor<3> out = xt::zeros<float>({heads, seq, d});
  // Per head: inverse key norms; one round's buckets, the counting sort's
  // counters and one position's projections; each round's sorted order and the
  // chunk of every position; per position the running max m and sum l of the
  // online softmax over rounds.
  buffer<float> inv_norm(seq), m(seq), l(seq);
  buffer<std::uint32_t> buckets(seq), start(o.n_buckets + 1);
  buffer<double> projections(o.n_buckets / 2);
  buffer<std::uint32_t> sorted(rounds * seq), chunk_of(rounds * seq);
  // One chunk's tiles: its queries [chunk, d], the keys it sees transposed
  // [d, window] and their values [window, d], the scores [chunk, window], its
  // output [chunk, d].
  auto q_tile = tensor<2>::from_shape({chunk, d});
  auto kt_tile = tensor<2>::from_shape({d, window});
  auto v_tile = tensor<2>::from_shape({window, d});
  auto scores = tensor<2>::from_shape({chunk, window});
  auto o_tile = tensor<2>::from_shape({chunk, d});
  // ln N for a pair seen by N rounds (N >= 1), so that it counts once in the union.
  buffer<float> log_count(rounds + 1, 0.0f);
  for (std::size_t n = 1; n <= rounds; ++n) log_count[n] = std::log(static_cast<float>(n));

  io_bytes* const io = o.io;  // bytes moved, counted where a loop loads or stores (lsh_io_bytes)
  for (std::size_t h = 0; h < heads; ++h) {
    if (io) io->load(seq * d), io->store(seq);
    for (std::size_t p = 0; p < seq; ++p) inv_norm[p] = inverse_key_norm(row(qk, h, p), d);

    // -- hash and sort every round --------------------------------------------
    for (std::size_t r = 0; r < rounds; ++r) {
      if (io) io->load(seq * d + 3 * seq), io->store(3 * seq);
      const float* rotation = rotations.data() + (h * rounds + r) * rotation_size;
      for (std::size_t p = 0; p < seq; ++p)
        buckets[p] = bucket_of(row(qk, h, p), rotation, d, o.n_buckets / 2, projections.data());
      std::uint32_t* order = sorted.data() + r * seq;
      sort_by_bucket(buckets.data(), seq, o.n_buckets, start.data(), order);
      for (std::size_t k = 0; k < seq; ++k)
        chunk_of[r * seq + order[k]] = static_cast<std::uint32_t>(k / chunk);
    }

    std::fill(m.begin(), m.end(), -std::numeric_limits<float>::infinity());
    std::fill(l.begin(), l.end(), 0.0f);
    // How many rounds put j in i's window (its chunk or the one before).
    auto rounds_seeing = [&](std::uint32_t i, std::uint32_t j) {
      std::size_t n = 0;
      for (std::size_t r = 0; r < rounds; ++r) {
        const std::uint32_t ci = chunk_of[r * seq + i], cj = chunk_of[r * seq + j];
        n += (cj == ci || cj + 1 == ci);
      }
      return n;
    };

    for (std::size_t r = 0; r < rounds; ++r) {
      const std::uint32_t* order = sorted.data() + r * seq;
      for (std::size_t q0 = 0; q0 < seq; q0 += chunk) {
        const std::size_t rows = std::min(chunk, seq - q0);
        const std::size_t k0 = q0 >= chunk ? q0 - chunk : 0;  // the chunk before, if any
        const std::size_t cols = q0 + rows - k0;
        // the window's order entries, key rows, norms and value rows; the chunk's
        // query rows; every round's chunk of the window's positions (duplicates);
        // each query row's m, l and output row, loaded after the first round and stored
        if (io)
          io->load(cols * (2 * d + 2) + rows * d + (rounds > 1 ? cols * rounds : 0) +
                   (r > 0 ? rows * (d + 2) : 0)),
              io->store(rows * (d + 2));

        // -- gather the chunk's queries, its keys (normalised) and values ------
        for (std::size_t a = 0; a < rows; ++a)
          std::copy_n(row(qk, h, order[q0 + a]), d, &q_tile(a, 0));
        for (std::size_t b = 0; b < cols; ++b) {
          const std::uint32_t j = order[k0 + b];
          const float* k = row(qk, h, j);
          for (std::size_t c = 0; c < d; ++c) kt_tile(c, b) = k[c] * inv_norm[j];
          std::copy_n(row(v, h, j), d, &v_tile(b, 0));
        }

        // -- scores S = Q K̂ᵀ ----------------------------------------------------
        for (std::size_t a = 0; a < rows; ++a) std::fill_n(&scores(a, 0), cols, 0.0f);
        kernels::matmul_accumulate(q_tile.data(), d, rows, d, kt_tile.data(), window, scores.data(),
                                   window, cols);

        // -- mask, count duplicates, merge into the row's running softmax --------
        for (std::size_t a = 0; a < rows; ++a) {
          const std::uint32_t i = order[q0 + a];
          float* s = &scores(a, 0);
          float row_max = -std::numeric_limits<float>::infinity();
          for (std::size_t b = 0; b < cols; ++b) {
            const std::uint32_t j = order[k0 + b];
            if (j == i || (o.causal && j > i)) continue;
            if (rounds > 1) s[b] -= log_count[rounds_seeing(i, j)];
            row_max = std::max(row_max, s[b]);
          }
          if (row_max == -std::numeric_limits<float>::infinity()) {  // nothing visible here
            std::fill_n(s, cols, 0.0f);
            continue;
          }
          const float m_new = std::max(m[i], row_max);
          const float correction = std::exp(m[i] - m_new);  // 0 on the row's first round
          float sum = 0;
          for (std::size_t b = 0; b < cols; ++b) {
            const std::uint32_t j = order[k0 + b];
            const bool masked = j == i || (o.causal && j > i);
            s[b] = masked ? 0.0f : kernels::exp_approx(s[b] - m_new);
            sum += s[b];
          }
          l[i] = l[i] * correction + sum;
          m[i] = m_new;
          if (correction != 1.0f) {
            float* out_i = row(out, h, i);
            for (std::size_t c = 0; c < d; ++c) out_i[c] *= correction;
          }
        }

        // -- O = P V for the chunk, added to each query's row (the unsort) -------
        for (std::size_t a = 0; a < rows; ++a) std::fill_n(&o_tile(a, 0), d, 0.0f);
        kernels::matmul_accumulate(scores.data(), window, rows, cols, v_tile.data(), d,
                                   o_tile.data(), d, d);
        for (std::size_t a = 0; a < rows; ++a) {
          float* out_i = row(out, h, order[q0 + a]);
          for (std::size_t c = 0; c < d; ++c) out_i[c] += o_tile(a, c);
        }
      }
    }

    // -- normalise; a row that saw no other key in any round attends to itself --
    if (io) io->load(seq * (d + 1)), io->store(seq * d);
    for (std::size_t i = 0; i < seq; ++i) {
      float* out_i = row(out, h, i);
      if (l[i] == 0.0f) {
        std::copy_n(row(v, h, i), d, out_i);
      } else {
        const float inv_l = 1.0f / l[i];
        for (std::size_t c = 0; c < d; ++c) out_i[c] *= inv_l;
      }
    }
  }
  return out;
}

tensor<3> shared_qk_naive(const tensor<3>& qk, const tensor<3>& v, bool causal) {
  check_lsh_inputs(qk, v);
  const std::size_t heads = qk.shape(0), seq = qk.shape(1), d = qk.shape(2);
  const std::uint64_t scores_size = std::uint64_t{heads} * seq * seq;
  require(scores_size <= (std::uint64_t{1} << 29), "heads · seq²", scores_size,
          "at most 2^29 scores (2 GiB)");

  buffer<float> inv_norm(seq);
  auto scores = tensor<3>::from_shape({heads, seq, seq});
  tensor<3> out = xt::zeros<float>({heads, seq, d});
  for (std::size_t h = 0; h < heads; ++h) {
    for (std::size_t j = 0; j < seq; ++j) inv_norm[j] = inverse_key_norm(row(qk, h, j), d);
    for (std::size_t i = 0; i < seq; ++i) {
      float* s = &scores(h, i, 0);
      const std::size_t seen = causal ? i + 1 : seq;  // keys 0 .. seen-1 by the causal mask
      float row_max = -std::numeric_limits<float>::infinity();
      for (std::size_t j = 0; j < seen; ++j) {
        s[j] = kernels::dot(row(qk, h, i), row(qk, h, j), d) * inv_norm[j];
        if (j != i) row_max = std::max(row_max, s[j]);
      }
      float* out_i = row(out, h, i);
      if (seen == 1) {  // only itself to see
        std::copy_n(row(v, h, i), d, out_i);
        continue;
      }
      float sum = 0;
      for (std::size_t j = 0; j < seen; ++j)
        sum += (s[j] = j == i ? 0.0f : std::exp(s[j] - row_max));
      for (std::size_t j = 0; j < seen; ++j) kernels::axpy(out_i, s[j] / sum, row(v, h, j), d);
    }
  }
  return out;
}

io_bytes lsh_io_bytes(std::size_t heads, std::size_t seq, std::size_t head_dim,
                      const lsh_options& o) {
  check_lsh_options(o);
  const std::uint64_t n = seq, d = head_dim, rounds = o.n_rounds;
  const std::uint64_t c = std::min<std::uint64_t>(o.chunk, n);
  const std::uint64_t chunks = c == 0 ? 0 : (n + c - 1) / c;
  const std::uint64_t window_rows = chunks == 0 ? 0 : n + (chunks - 1) * c;  // W
  const std::uint64_t duplicates = rounds > 1 ? window_rows * rounds : 0;
  io_bytes per_head;
  per_head.load(n * d);  // key norms
  per_head.store(n);
  per_head.load(rounds * (n * d + 3 * n));  // hash and sort
  per_head.store(rounds * 3 * n);
  per_head.load(rounds * (window_rows * (2 * d + 2) + n * d + duplicates));  // the chunks
  per_head.load((rounds - 1) * n * (d + 2));
  per_head.store(rounds * n * (d + 2));
  per_head.load(n * (d + 1));  // normalise
  per_head.store(n * d);
  return {per_head.read * heads, per_head.written * heads};
}

std::size_t lsh_scratch_bytes(std::size_t heads, std::size_t seq, std::size_t head_dim,
                              const lsh_options& o) {
  check_lsh_options(o);
  const std::size_t chunk = std::min(o.chunk, seq);
  const std::size_t window = std::min(2 * chunk, seq);
  const std::size_t floats = heads * o.n_rounds * head_dim * (o.n_buckets / 2)  // rotations
                             + 3 * seq                // inverse norms, m, l
                             + (o.n_rounds + 1)       // ln N
                             + 2 * chunk * head_dim   // query and output tiles
                             + 2 * window * head_dim  // key and value tiles
                             + chunk * window;        // scores
  const std::size_t ints = seq + (o.n_buckets + 1)    // buckets, counting sort
                           + 2 * o.n_rounds * seq;    // sorted order, chunk of each position
  return floats * sizeof(float) + ints * sizeof(std::uint32_t) +
         o.n_buckets / 2 * sizeof(double);  // one position's projections
}

}  // namespace memlab::attention
