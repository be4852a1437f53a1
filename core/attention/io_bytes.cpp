#include "attention/io_bytes.hpp"

#include <algorithm>

#include "attention/attention.hpp"
#include "base/error.hpp"

namespace memlab::attention {
namespace {

// Keys the last row of a Q tile sees (ending at row `last`).
std::uint64_t kv_end(const shape& s, bool causal, std::size_t last) {
  return causal ? std::min<std::uint64_t>(s.seq_kv, last + (s.seq_kv - s.seq_q) + 1) : s.seq_kv;
}

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return (a + b - 1) / b; }

}  // namespace

io_tiles tiles_for(std::uint64_t fast_bytes, std::size_t head_dim) {
  require(head_dim > 0, "head_dim", head_dim, "at least 1");
  require(fast_bytes >= 16 * head_dim, "fast_bytes", fast_bytes, [&] {
    return "at least 16 · head_dim = " + std::to_string(16 * head_dim) +
           " (four rows of head_dim floats)";
  });
  const std::uint64_t outer = ceil_div(fast_bytes, 16 * std::uint64_t{head_dim});
  return {static_cast<std::size_t>(outer),
          static_cast<std::size_t>(std::min<std::uint64_t>(outer, head_dim))};
}

flash_options forward_tiles(std::uint64_t fast_bytes, std::size_t head_dim, bool causal) {
  const io_tiles t = tiles_for(fast_bytes, head_dim);
  return {causal, t.outer, t.inner};
}

flash_options backward_tiles(std::uint64_t fast_bytes, std::size_t head_dim, bool causal) {
  const io_tiles t = tiles_for(fast_bytes, head_dim);
  return {causal, t.inner, t.outer};
}

io_bytes naive_io_bytes(const shape& s) {
  const std::uint64_t h = s.heads, n = s.seq_q, n_kv = s.seq_kv, d = s.head_dim;
  io_bytes io;
  io.load(h * (n * d + 2 * n_kv * d + 2 * n * n_kv));  // Q, K, V; S, P
  io.store(h * (2 * n * n_kv + n * d));                // S, P; O
  return io;
}

io_bytes flash_io_bytes(const shape& s, const flash_options& options, bool save_logsumexp) {
  const std::uint64_t h = s.heads, n = s.seq_q, n_kv = s.seq_kv, d = s.head_dim;
  const std::uint64_t br = std::min<std::uint64_t>(options.block_q, n);
  const std::uint64_t bc = std::min<std::uint64_t>(options.block_kv, n_kv);
  // Keys whose K and V rows each Q tile loads: whole K/V tiles up to its kv_end.
  std::uint64_t keys = 0;
  for (std::uint64_t i0 = 0; i0 < n; i0 += br) {
    const std::uint64_t rows = std::min(br, n - i0);
    keys += std::min(ceil_div(kv_end(s, options.causal, i0 + rows - 1), bc) * bc, n_kv);
  }
  io_bytes io;
  io.load(h * (n * d + 2 * keys * d));               // Q once; K, V per Q tile
  io.store(h * (n * d + (save_logsumexp ? n : 0)));  // O (and L)
  return io;
}

io_bytes naive_backward_io_bytes(const shape& s) {
  const std::uint64_t h = s.heads, g = s.kv_heads, n = s.seq_q, n_kv = s.seq_kv, d = s.head_dim;
  io_bytes io;
  io.load(h * (5 * n * n_kv + 3 * n * d + 2 * n_kv * d) + (h - g) * 2 * n_kv * d);
  io.store(h * (2 * n * n_kv + n * d + 2 * n_kv * d));
  return io;
}

io_bytes flash_backward_io_bytes(const shape& s, const flash_options& options) {
  const std::uint64_t h = s.heads, g = s.kv_heads, n = s.seq_q, n_kv = s.seq_kv, d = s.head_dim;
  const std::uint64_t br = std::min<std::uint64_t>(options.block_q, n);
  const std::uint64_t bc = std::min<std::uint64_t>(options.block_kv, n_kv);
  io_bytes io;
  io.load(2 * h * n * d), io.store(h * n);                // D = rowsum(dO ∘ O)
  io.load(2 * g * n_kv * d), io.store(2 * g * n_kv * d);  // K_j, V_j in; dK_j, dV_j out
  for (std::uint64_t i0 = 0; i0 < n; i0 += br) {
    const std::uint64_t rows = std::min(br, n - i0);
    // K/V tiles that visit Q tile i: those starting below its kv_end
    const std::uint64_t visits = ceil_div(kv_end(s, options.causal, i0 + rows - 1), bc);
    io.load(h * (visits * rows * (2 * d + 2) + (visits - 1) * rows * d));  // Q, dO, L, D; dQ
    io.store(h * visits * rows * d);                                       // dQ
  }
  return io;
}

}  // namespace memlab::attention
