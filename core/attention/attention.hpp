// attention/attention.hpp — scaled dot-product attention, naive and FlashAttention-style.
//
//   out[h, i, :] = sum_j softmax_j(q[h, i, :] · k[g, j, :] * scale) v[g, j, :]
//   scale = 1 / sqrt(head_dim),   g = h / (heads / kv_heads)
//
// Shapes (fp32, row-major):
//   q   [heads,    seq_q,  head_dim]
//   k,v [kv_heads, seq_kv, head_dim]     kv_heads divides heads
//   out [heads,    seq_q,  head_dim]
// kv_heads == heads is multi-head attention (MHA), 1 < kv_heads < heads is
// grouped-query attention (GQA), kv_heads == 1 is multi-query attention (MQA):
// a group of heads / kv_heads query heads shares one K/V head, which divides the
// KV cache by that factor.
//
// Causal masking is aligned to the end, as when new queries follow a cached
// prefix: query i sits at position i + (seq_kv - seq_q) and sees keys j <= that.
// A batch is a loop over calls.
//
// naive(): materialises scores and probabilities, [heads, seq_q, seq_kv] each,
//   exactly as eager framework code does (S = QKᵀ, P = softmax(S), O = PV), the
//   softmax a row at a time (one read of S and one write of P, as a fused kernel).
//   Time O(heads·seq_q·seq_kv·head_dim), extra memory 2·heads·seq_q·seq_kv floats.
// flash(): FlashAttention's forward pass (Dao et al. 2022). Q is cut into tiles of
//   block_q rows, K/V into tiles of block_kv rows; each Q tile streams over the K/V
//   tiles keeping, per query row, the running max m, the running sum l and an
//   unnormalised output, rescaled whenever m grows (the online softmax). Only one
//   block_q × block_kv tile of scores is alive at a time. Same time, extra memory
//   per worker, for br = min(block_q, seq_q), bc = min(block_kv, seq_kv):
//   br·bc + 2·br floats (scores, m, l) + head_dim·br (Q_i transposed, when br is
//   at least a register block); w = min(threads, heads · ceil(seq_q / br))
//   workers, so the tracked peak grows with the thread count (the page runs one
//   thread; the exact-peak tests assert 1 and 2). With causal masking, K/V
//   tiles that lie entirely above the diagonal are never visited (about half the
//   work).
//   How it runs (differences from the paper's GPU kernel): a tile's scores are
//   computed transposed, Sᵀ = K_j (scale·Q_i)ᵀ, so that K is read by rows as it
//   is stored and only Q_i is transposed, once per Q tile; the online softmax then
//   runs down the tile with queries side by side in the vector lanes. (Head, Q
//   tile) pairs are tasks over base/parallel.hpp's threads, each writing only its
//   rows: the output has the same bits on any number of threads. Decoding a
//   token or a few (fewer rows than a register block) scores row by row.
//   Asked for it, the forward also saves the per-row logsumexp L = m + log l,
//   all the backward pass needs of the softmax (attention/flash_backward.hpp).
// Both kernels can count the bytes they move between slow and fast memory
// (attention/io_bytes.hpp).
#pragma once

#include <cstddef>
#include <cstdint>

#include "attention/io_bytes.hpp"
#include "base/limits.hpp"
#include "base/memory.hpp"

namespace memlab::attention {

struct shape {
  std::size_t heads = 0;
  std::size_t kv_heads = 0;
  std::size_t seq_q = 0;
  std::size_t seq_kv = 0;
  std::size_t head_dim = 0;

  std::size_t group() const { return heads / kv_heads; }  // query heads per KV head
};

// K and V of one attention layer, as the kernels read them. Storage may come in
// pieces — a paged KV cache keeps one piece per block — so contiguous(p) tells
// how many positions from p on are stored one after another (runs), and the
// kernels stream whole runs.
//
// V is read by rows: v(g, p) is head_dim floats. K comes in one of two layouts:
// * by rows, k(g, p), like V (two tensors, the input of a forward pass);
// * transposed, [head_dim, positions] per run: k_transposed(g, p) points at
//   dimension 0 of position p, dimension c is k_transposed_stride() floats
//   further. This is what scoring queries against many keys wants — the keys
//   of one dimension sit side by side, so the scores of a tile are vector
//   multiply-adds along positions, with no horizontal sums and no transposing.
//   KV caches keep K this way; appending a token writes head_dim strided floats.
// A source returns nullptr from the layout it does not keep.
class kv_source {
 public:
  virtual ~kv_source() = default;
  virtual std::size_t kv_heads() const = 0;
  virtual std::size_t seq() const = 0;
  virtual std::size_t head_dim() const = 0;
  virtual const float* k(std::size_t kv_head, std::size_t pos) const = 0;
  virtual const float* k_transposed(std::size_t, std::size_t) const { return nullptr; }
  virtual std::size_t k_transposed_stride() const { return 0; }
  virtual const float* v(std::size_t kv_head, std::size_t pos) const = 0;
  // Positions p, p+1, ..., p+n-1 are stored consecutively; n >= 1 for p < seq.
  virtual std::size_t contiguous(std::size_t pos) const = 0;
};

// K and V held in two [kv_heads, seq, head_dim] tensors (not copied: they must
// outlive the view).
class tensor_kv final : public kv_source {
 public:
  tensor_kv(const tensor<3>& k, const tensor<3>& v) : k_(k), v_(v) {}
  std::size_t kv_heads() const override { return k_.shape(0); }
  std::size_t seq() const override { return k_.shape(1); }
  std::size_t head_dim() const override { return k_.shape(2); }
  const float* k(std::size_t g, std::size_t p) const override { return row(k_, g, p); }
  const float* v(std::size_t g, std::size_t p) const override { return row(v_, g, p); }
  std::size_t contiguous(std::size_t p) const override { return seq() - p; }

 private:
  static const float* row(const tensor<3>& t, std::size_t g, std::size_t p) {
    return t.data() + (g * t.shape(1) + p) * t.shape(2);
  }
  const tensor<3>& k_;
  const tensor<3>& v_;
};

struct flash_options {
  bool causal = false;
  std::size_t block_q = 64;   // Br: query rows per tile
  std::size_t block_kv = 64;  // Bc: keys per tile
  // Optional outputs, null (off and free) by default:
  tensor<2>* logsumexp = nullptr;  // receives L [heads, seq_q], L = m + log l of every query row
  io_bytes* io = nullptr;          // counts the bytes the tile loops load and store
};

// Checks the sizes on their own: all positive, kv_heads dividing heads, and
// seq_kv >= seq_q under a causal mask. Throws memlab::invalid_argument.
void check_shape(const shape& s, bool causal);

// Checks that q, k, v fit together (throws memlab::invalid_argument naming the
// argument otherwise) and returns their shape.
shape check_shapes(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v, bool causal);

// The reference: materialises the [heads, seq_q, seq_kv] scores. probs, if given,
// receives P = softmax(S) [heads, seq_q, seq_kv] (kept for the backward pass, as
// eager autograd keeps it); io, if given, counts the bytes moved.
// naive() and flash() on tensors refuse NaN or infinite values in q, k or v
// (naming the first one), scores past fp32's range, and a call past the limits
// of base/limits.hpp: the bytes of naive_bytes() / flash_bytes(), the work of work().
tensor<3> naive(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v, bool causal = false,
                tensor<3>* probs = nullptr, io_bytes* io = nullptr);

// Tiled attention with online softmax; never materialises more than one tile of scores.
tensor<3> flash(const tensor<3>& q, const tensor<3>& k, const tensor<3>& v,
                const flash_options& options = {});

// The same over K/V from any source (a KV cache, contiguous or paged): q
// [heads, seq_q, head_dim] against kv.seq() keys. A K/V tile never spans two
// runs of the source, so with a paged cache tiles end at block boundaries.
tensor<3> flash(const tensor<3>& q, const kv_source& kv, const flash_options& options = {});

// Number of (Q tile, K/V tile) pairs flash() computes: all of them without a
// causal mask, only those on or below the diagonal with one.
std::size_t flash_tiles_visited(const shape& s, const flash_options& options);

// Bytes of K and V together for one layer: 2 · kv_heads · seq · head_dim · 4,
// in 64 bits (saturating at 2^64 - 1).
std::uint64_t kv_bytes(count kv_heads, count seq, count head_dim);

// Bytes naive() allocates: scores and probabilities 2 · heads · seq_q · seq_kv
// and the output heads · seq_q · head_dim; fp32.
count naive_bytes(const shape& s);
// Bytes flash() allocates: the output, one tile of scores, m and l per tile
// row, and one K tile transposed (block_kv · head_dim).
count flash_bytes(const shape& s, const flash_options& options);

// Multiply-adds of QKᵀ and PV counted as 2 flops each: 4 · heads · seq_q · seq_kv · head_dim,
// counting only the (query, key) pairs the causal mask allows when causal.
double flops(const shape& s, bool causal);

// The work a forward pass costs for the limits, in flops of time: flops() and
// an exponential and a scaling per (query, key) pair (about 24 flops, which
// count once head_dim is small), and a tile's own bookkeeping (about 500 per
// (Q tile, K/V tile) pair; naive counts as tiles of one row).
double work(const shape& s, bool causal, const flash_options& options);

}  // namespace memlab::attention
