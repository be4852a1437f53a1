// attention/lsh.hpp — Reformer's LSH attention (Kitaev, Kaiser, Levskaya 2020).
//
// Shared-QK attention: one projection gives the queries, and the keys are the same
// vectors normalised to unit length, so q_i · k_i is the largest logit of row i:
//
//   k_j = q_j / sqrt(|q_j|² + head_dim · 1e-6)          (trax's length_normalized)
//   out[h, i, :] = Σ_{j ∈ P_i} softmax_j(q[h, i] · k[h, j]) v[h, j, :]
//
// (no 1 / sqrt(head_dim) factor: the keys are unit vectors). In exact shared-QK
// attention, P_i is every position (j <= i with a causal mask) except i itself —
// a position does not attend to itself unless nothing else is visible, since its
// own key would win almost every row. LSH attention shrinks P_i to the positions
// that hash near i, in four steps per head:
//
// 1. hash: round r draws R_r [head_dim, n_buckets / 2] of N(0, 1) values (angular
//    LSH by random rotations, Andoni et al. 2015); bucket_r(x) = argmax([xR_r, -xR_r]),
//    the first maximum on ties. Vectors a small angle apart share a bucket with
//    high probability. n_buckets = 1 puts everything in bucket 0.
// 2. sort the positions by (bucket, position): a stable counting sort, so a
//    bucket lists its positions in sequence order.
// 3. chunk the sorted order into runs of `chunk` positions; a query attends to the
//    keys of its own chunk and of the chunk before, with the causal mask (by
//    position) and the self rule above. Each chunk costs chunk × 2·chunk scores,
//    not seq.
// 4. rounds: P_i is the union over the n_rounds hashings. Round r gives an output
//    o_r and its logsumexp z_r; out = Σ_r exp(z_r - logsumexp_r z_r) o_r (here
//    merged round after round, as the online softmax merges tiles). A pair (i, j)
//    found by N_ij rounds has its logit lowered by ln N_ij in each, so it counts
//    once and out is exactly softmax over P_i (the paper's eq. with m(i, j)).
//
// Where this follows the reference code (trax efficient_attention.py
// LSHSelfAttention, HuggingFace modeling_reformer.py LSHSelfAttention) and where
// it differs:
// * same: rotations [head_dim, n_rounds, n_buckets/2] per head, argmax over
//   [xR, -xR]; the order by (bucket, position) (trax sorts the keys
//   bucket · seq + position, a counting sort does it here); keys normalised as
//   above; chunks attend to themselves and one chunk back; rounds weighted by
//   exp(z_r - logsumexp z).
// * the reference sorts all rounds as one sequence (bucket + r · n_buckets) and
//   looks back circularly: chunk 0 of round r sees the last chunk of round r-1,
//   and round 0's first chunk the very last one. Here each round is sorted and
//   chunked on its own and a round's first chunk has no chunk before it: the
//   wrapped-around chunk holds other buckets, and with one chunk per round it
//   would list every key twice.
// * the reference masks self with a finite -1e5 (-1e3 in fp16) and a pair seen
//   by several rounds counts several times (no ln N_ij); here self is excluded
//   exactly (a row that sees nothing else in any round gets v_i) and duplicates
//   count once, as the paper writes it. The reference masks padding; there is
//   none here.
// * n_buckets may be 1 (no hashing: one bucket); the reference wants it even.
// * the rotations come from memlab::rng(seed) (splitmix64 + Box–Muller), drawn
//   in the order head, round, dimension, column, and the projections are
//   summed in double: the same buckets natively and in wasm.
//
// Shapes: qk, v [heads, seq, head_dim] -> out [heads, seq, head_dim].
// Cost per head: hashing n_rounds · seq · head_dim · n_buckets/2 multiply-adds;
// sorting n_rounds · (seq + n_buckets) (the paper's comparison sort makes it
// seq log seq); attention at most n_rounds · seq · 2·chunk · head_dim · 2
// multiply-adds, plus n_rounds integer compares per pair for the duplicate
// counts. For fixed chunk and n_buckets that grows like seq (seq log seq with a
// comparison sort): slope 1 on a log-log chart, against 2 for exact attention.
// Memory besides the output: the rotations; per head the inverse key norms and
// per row a running max and sum (3 · seq floats); per round the sorted order
// and the chunk of every position (2 · n_rounds · seq 32-bit integers); one
// chunk's tiles (queries, keys, values, scores, output); one position's
// projections (n_buckets / 2 doubles). No seq × seq buffer: lsh_scratch_bytes()
// gives the exact count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "attention/io_bytes.hpp"
#include "base/memory.hpp"

namespace memlab::attention {

struct lsh_options {
  std::size_t n_buckets = 8;  // 1, or an even number (argmax over [xR, -xR])
  std::size_t n_rounds = 2;   // hashings; more rounds, fewer missed neighbours
  std::size_t chunk = 64;     // positions per chunk of the sorted order
  bool causal = false;        // j <= i by position
  std::uint32_t seed = 1;     // of the random rotations
  io_bytes* io = nullptr;     // when set, the bytes moved are added (lsh_io_bytes)
};

// Checks the options: n_buckets 1 or even in [2, 65536], n_rounds in [1, 64],
// chunk >= 1. Throws memlab::invalid_argument naming the field.
void check_lsh_options(const lsh_options& options);

// The random rotations, [heads, n_rounds, head_dim, n_buckets / 2] (empty last
// axis for one bucket), drawn from memlab::rng(options.seed).
tensor<4> lsh_rotations(std::size_t heads, std::size_t head_dim, const lsh_options& options);

// bucket of x (head_dim floats) under one rotation r [head_dim, n_buckets / 2]
// (row-major, its last axis contiguous): argmax([xR, -xR]), first on ties.
std::uint32_t lsh_bucket(const float* x, const float* r, std::size_t head_dim,
                         std::size_t n_buckets);

// Buckets of every position, [heads, n_rounds, seq], of qk [heads, seq, head_dim].
buffer<std::uint32_t> lsh_buckets(const tensor<3>& qk, const lsh_options& options);

// The positions 0..seq-1 sorted by (bucket, position): order[k] is the position
// at sorted index k. buckets holds seq values below n_buckets.
buffer<std::uint32_t> lsh_sort(const std::uint32_t* buckets, std::size_t seq,
                               std::size_t n_buckets);

// The inverse permutation: undo[order[k]] = k (the "unsort" of the outputs).
buffer<std::uint32_t> lsh_unsort(const buffer<std::uint32_t>& order);

// LSH attention (see above). qk and v are [heads, seq, head_dim].
tensor<3> lsh(const tensor<3>& qk, const tensor<3>& v, const lsh_options& options = {});

// Exact shared-QK attention (the same logits, every position visible, self
// excluded unless alone): what lsh() approximates. Materialises the
// [heads, seq, seq] scores, like naive().
tensor<3> shared_qk_naive(const tensor<3>& qk, const tensor<3>& v, bool causal = false);

// The bytes lsh() moves between slow and fast memory (attention/io_bytes.hpp's
// rules), in floats (4 bytes; the 32-bit indices count as one each), per head,
// for seq N, head_dim d, R rounds, chunk c = min(chunk, N), C = ceil(N / c) chunks;
// a chunk's window holds its own rows and, after the first chunk, the c rows of
// the one before: W = Σ windows = N + (C − 1) c rows per round.
//   key norms:    load the N rows, store N norms            read Nd,      write N
//   per round, hashing and sorting: load the N rows, store N buckets; the
//     counting sort loads them twice and stores the order; the chunk of each
//     position: load the order, store N chunk indices         read Nd + 3N, write 3N
//   per round, per chunk: load the window's order entries, its key rows, their
//     norms and value rows (W (2d + 2) a round), the chunk's query rows (N d a
//     round) and, with R > 1, every round's chunk index of the window's
//     positions to count a pair's duplicates (W R a round);
//     per query row: its running m, l and output row, loaded (not in the first
//     round: they start at −inf, 0, 0) and stored back (d + 2 each)
//                        read R (W (2d + 2) + N d + [R > 1] W R) + (R − 1) N (d + 2),
//                        write R N (d + 2)
//   normalise: load l and the output row (or v, a row alone), store the row
//                                                            read N (d + 1), write Nd
// Linear in N for fixed c and R, where exact attention moves Θ(N²).
io_bytes lsh_io_bytes(std::size_t heads, std::size_t seq, std::size_t head_dim,
                      const lsh_options& options);

// Bytes lsh() allocates besides its output (exact: the tests compare it with
// the tracker's peak).
std::size_t lsh_scratch_bytes(std::size_t heads, std::size_t seq, std::size_t head_dim,
                              const lsh_options& options);

}  // namespace memlab::attention
