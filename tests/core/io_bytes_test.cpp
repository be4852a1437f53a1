#include "attention/io_bytes.hpp"

#include <doctest/doctest.h>

#include <string>

#include "attention/attention.hpp"
#include "attention/flash_backward.hpp"
#include "attention/lsh.hpp"
#include "base/error.hpp"
#include "base/random.hpp"
#include "reference.hpp"

using namespace memlab;
using attention::io_bytes;

namespace {

// The bytes each kernel's own counters report for one call on seeded inputs.
struct counted {
  io_bytes naive, naive_backward, flash, flash_with_lse, flash_backward;
};

counted counted_by(const attention::shape& s, const attention::flash_options& forward,
                   const attention::flash_options& backward, bool run_naive = true) {
  rng gen(11);
  const auto q = random_normal<3>({s.heads, s.seq_q, s.head_dim}, gen);
  const auto k = random_normal<3>({s.kv_heads, s.seq_kv, s.head_dim}, gen);
  const auto v = random_normal<3>({s.kv_heads, s.seq_kv, s.head_dim}, gen);
  const auto dout = random_normal<3>({s.heads, s.seq_q, s.head_dim}, gen);
  counted c;
  if (run_naive) {
    tensor<3> probs;
    attention::naive(q, k, v, forward.causal, &probs, &c.naive);
    attention::naive_backward(q, k, v, probs, dout, &c.naive_backward);
  }
  auto options = forward;
  options.io = &c.flash;
  attention::flash(q, k, v, options);
  tensor<2> lse;
  options.io = &c.flash_with_lse;
  options.logsumexp = &lse;
  const tensor<3> out = attention::flash(q, k, v, options);
  options = backward;
  options.io = &c.flash_backward;
  attention::flash_backward(q, k, v, out, lse, dout, options);
  return c;
}

void check_equal(const char* what, const io_bytes& counted, const io_bytes& formula) {
  INFO(what << ": counted " << counted.read << " read, " << counted.written << " written; formula "
            << formula.read << ", " << formula.written);
  CHECK(counted.read == formula.read);
  CHECK(counted.written == formula.written);
}

std::string describe(const attention::shape& s, const attention::flash_options& o) {
  return "heads " + std::to_string(s.heads) + ", kv_heads " + std::to_string(s.kv_heads) +
         ", seq_q " + std::to_string(s.seq_q) + ", seq_kv " + std::to_string(s.seq_kv) +
         ", head_dim " + std::to_string(s.head_dim) + ", blocks " + std::to_string(o.block_q) +
         "x" + std::to_string(o.block_kv) + (o.causal ? ", causal" : "");
}

}  // namespace

TEST_CASE("I/O bytes by hand: seq 4, head_dim 2, 2x2 tiles") {
  // One head, N = N' = 4, d = 2 (floats; bytes are 4x):
  // naive: load Q 8, K 8, S 16, P 16, V 8 = 56; store S 16, P 16, O 8 = 40.
  // flash: load Q 8, then per Q tile (2) K and V (2 · 4 · 2): 8 + 32 = 40; store O 8 (+ L 4).
  //   causal: Q tile 0 sees keys 0..1 (one K/V tile), tile 1 all four: 8 + 8 + 16 = 32.
  // flash backward: D: load O, dO 16, store D 4; K/V tiles: load 16, store dK, dV 16;
  //   per Q tile (2 rows) and visit: load Q, dO, L, D 2 · (2 · 2 + 2) = 12 and dQ 4 from
  //   the second visit on, store dQ 4. Two visits each: loads 16 + 16 + 2 · 28 = 88,
  //   stores 4 + 16 + 2 · 8 = 36. Causal: tile 0 is visited once: 16 + 16 + 12 + 28 = 72,
  //   4 + 16 + 4 + 8 = 32.
  // naive backward: load 5 · 16 + 3 · 8 + 2 · 8 = 120, store 2 · 16 + 8 + 2 · 8 = 56.
  const attention::shape s{1, 1, 4, 4, 2};
  const attention::flash_options tiles{false, 2, 2}, causal{true, 2, 2};
  const counted c = counted_by(s, tiles, tiles);
  check_equal("naive", c.naive, {56 * 4, 40 * 4});
  check_equal("flash", c.flash, {40 * 4, 8 * 4});
  check_equal("flash with L", c.flash_with_lse, {40 * 4, 12 * 4});
  check_equal("flash backward", c.flash_backward, {88 * 4, 36 * 4});
  check_equal("naive backward", c.naive_backward, {120 * 4, 56 * 4});
  const counted m = counted_by(s, causal, causal);
  check_equal("naive causal (computes every pair)", m.naive, {56 * 4, 40 * 4});
  check_equal("flash causal", m.flash, {32 * 4, 8 * 4});
  check_equal("flash backward causal", m.flash_backward, {72 * 4, 32 * 4});
}

TEST_CASE("the kernels' counted bytes equal the closed forms for many shapes and tiles") {
  struct io_case {
    attention::shape s;
    std::size_t block_q, block_kv;
  };
  const io_case cases[] = {
      {{4, 4, 64, 64, 16}, 16, 16}, {{4, 4, 100, 100, 32}, 32, 16}, {{4, 2, 77, 77, 24}, 16, 8},
      {{4, 1, 77, 77, 24}, 8, 16},  {{6, 3, 50, 50, 7}, 64, 64},    {{2, 2, 9, 40, 16}, 4, 16},
      {{2, 1, 40, 60, 16}, 16, 16}, {{2, 1, 19, 19, 5}, 1, 1},      {{1, 1, 130, 130, 64}, 64, 64},
      {{2, 2, 33, 33, 8}, 7, 5},
  };
  for (const auto& c : cases)
    for (bool causal : {false, true}) {
      const attention::flash_options forward{causal, c.block_q, c.block_kv};
      const attention::flash_options backward{causal, c.block_kv, c.block_q};  // swapped too
      CAPTURE(describe(c.s, forward));
      const counted n = counted_by(c.s, forward, backward);
      check_equal("naive", n.naive, attention::naive_io_bytes(c.s));
      check_equal("naive backward", n.naive_backward, attention::naive_backward_io_bytes(c.s));
      check_equal("flash", n.flash, attention::flash_io_bytes(c.s, forward, false));
      check_equal("flash with L", n.flash_with_lse, attention::flash_io_bytes(c.s, forward, true));
      check_equal("flash backward", n.flash_backward,
                  attention::flash_backward_io_bytes(c.s, backward));
    }
}

TEST_CASE("counting changes no result") {
  rng gen(2);
  const auto q = random_normal<3>({2, 70, 16}, gen);
  const auto k = random_normal<3>({1, 70, 16}, gen);
  const auto v = random_normal<3>({1, 70, 16}, gen);
  io_bytes io;
  attention::flash_options counted{true, 16, 32};
  counted.io = &io;
  CHECK(testing::max_abs_diff(attention::flash(q, k, v, counted),
                              attention::flash(q, k, v, {true, 16, 32})) == 0);
  CHECK(testing::max_abs_diff(attention::naive(q, k, v, true, nullptr, &io),
                              attention::naive(q, k, v, true)) == 0);
  CHECK(io.total() > 0);
}

TEST_CASE("tiles from the fast memory: outer ceil(M / 4d) floats' rows, inner min(outer, d)") {
  CHECK(attention::tiles_for(64 * 1024, 64).outer == 64);  // 16384 floats / 256
  CHECK(attention::tiles_for(64 * 1024, 64).inner == 64);
  CHECK(attention::tiles_for(100000, 64).outer == 98);  // 25000 / 256 = 97.7, rounded up
  CHECK(attention::tiles_for(100000, 64).inner == 64);
  CHECK(attention::tiles_for(16 * 1024, 128).outer == 8);
  CHECK(attention::tiles_for(16 * 1024, 128).inner == 8);
  // The forward's outer loop runs over Q tiles, the backward's over K/V tiles.
  const auto f = attention::forward_tiles(8 * 1024, 16, true);
  CHECK(f.block_q == 32);
  CHECK(f.block_kv == 16);
  CHECK(f.causal);
  const auto b = attention::backward_tiles(8 * 1024, 16, false);
  CHECK(b.block_q == 16);
  CHECK(b.block_kv == 32);
  CHECK_THROWS_WITH_AS(attention::tiles_for(10, 64),
                       "fast_bytes = 10: expected at least 16 · head_dim = 1024 (four rows of "
                       "head_dim floats)",
                       memlab::invalid_argument);
}

TEST_CASE("Theorem 2: flash moves Θ(N²d²/M) bytes as M varies, naive Θ(Nd + N²) whatever M") {
  // N = 512, d = 64, one head. With B = M / 16d rows per outer tile (M in bytes):
  //   forward  = 4 (2Nd + (N/B) 2Nd)                ≈ 128 N²d²/M + 8Nd
  //   backward = 4 ((N/B) N (4d + 2) + 6Nd + N)      ≈ 256 (1 + 1/2d) N²d²/M + 24Nd
  // so bytes · M / N²d² stays within [128, 160] and [258, 354] for M up to 128 KiB,
  // and each doubling of M halves the bytes but for the Nd terms.
  const std::size_t n = 512, d = 64;
  const attention::shape s{1, 1, n, n, d};
  const double n2d2 = double(n) * n * d * d;
  double previous_forward = 0, previous_backward = 0;
  for (std::uint64_t kib : {8, 16, 32, 64, 128}) {
    const std::uint64_t m = kib * 1024;
    CAPTURE(kib);
    const counted c = counted_by(s, attention::forward_tiles(m, d, false),
                                 attention::backward_tiles(m, d, false), false);
    const double forward = double(c.flash.total()), backward = double(c.flash_backward.total());
    CHECK(forward * double(m) / n2d2 >= 128);
    CHECK(forward * double(m) / n2d2 <= 160);
    CHECK(backward * double(m) / n2d2 >= 258);
    CHECK(backward * double(m) / n2d2 <= 354);
    if (previous_forward > 0) {
      CHECK(previous_forward / forward >= 1.7);
      CHECK(previous_backward / backward >= 1.7);
    }
    previous_forward = forward, previous_backward = backward;
  }
  // naive: 4 (2Nd + 2Nd + 4N²) = 16 (Nd + N²) bytes exactly, at every N (no M in it).
  for (std::size_t seq : {64, 128, 256, 512}) {
    CAPTURE(seq);
    const attention::shape t{1, 1, seq, seq, d};
    const counted c = counted_by(t, {false, 64, 64}, {false, 64, 64});
    CHECK(c.naive.total() == 16 * (seq * d + seq * seq));
  }
  // Flash moves fewer bytes than naive only once M is well above d² floats:
  // at M = 8 KiB (2048 floats, d² = 4096) it moves more, at 128 KiB far fewer.
  const std::uint64_t naive = 16 * (n * d + n * n);
  CHECK(attention::flash_io_bytes(s, attention::forward_tiles(8 * 1024, d, false), false).total() >
        naive);
  CHECK(2 * attention::flash_io_bytes(s, attention::forward_tiles(128 * 1024, d, false), false)
                .total() <
        naive);
}

namespace {

io_bytes lsh_counted(std::size_t heads, std::size_t seq, std::size_t d,
                     attention::lsh_options options) {
  rng gen(5);
  const auto qk = random_normal<3>({heads, seq, d}, gen);
  const auto v = random_normal<3>({heads, seq, d}, gen);
  io_bytes io;
  options.io = &io;
  attention::lsh(qk, v, options);
  return io;
}

}  // namespace

TEST_CASE("LSH attention's I/O by hand: seq 4, head_dim 2, chunk 2, one round") {
  // One head, N = 4, d = 2, chunk 2 (C = 2 chunks; windows 2 and 2 + 2 rows), in floats:
  // norms: load 8, store 4; hash and sort: load 8 + 3 · 4 = 20, store 12;
  // chunk 0: load its window (2 rows) · (2d + 2) = 12 and its queries 2 · 2 = 4,
  //   store m, l, O of its 2 rows: 2 · 4 = 8;
  // chunk 1: window 4 rows · 6 = 24, queries 4, store 8;
  // normalise: load l and O 4 · 3 = 12, store O 8.
  // read 8 + 20 + 16 + 28 + 12 = 84, written 4 + 12 + 8 + 8 + 8 = 40.
  const attention::lsh_options o{2, 1, 2, false, 1};
  check_equal("lsh", lsh_counted(1, 4, 2, o), {84 * 4, 40 * 4});
  check_equal("lsh formula", attention::lsh_io_bytes(1, 4, 2, o), {84 * 4, 40 * 4});
  // Two rounds add a second hash and sort (20, 12), the chunks again (44 read,
  // 16 written) plus each round's chunk of the window's positions (2 · (2 + 4) = 12 a
  // round) and the running state read back in round 2 (4 · 4 = 16).
  const attention::lsh_options two{2, 2, 2, false, 1};
  check_equal("lsh, two rounds", lsh_counted(1, 4, 2, two),
              {(84 + 20 + 44 + 2 * 12 + 16) * 4, (40 + 12 + 16) * 4});
}

TEST_CASE("LSH attention's counted bytes equal lsh_io_bytes for many shapes and options") {
  for (std::size_t heads : {1, 3})
    for (std::size_t seq : {1, 7, 64, 130})
      for (std::size_t d : {1, 8})
        for (std::size_t chunk : {1, 5, 64, 200})
          for (std::size_t rounds : {1, 3})
            for (bool causal : {false, true}) {
              const attention::lsh_options o{4, rounds, chunk, causal, 3};
              INFO("heads " << heads << ", seq " << seq << ", head_dim " << d << ", chunk " << chunk
                            << ", rounds " << rounds << (causal ? ", causal" : ""));
              check_equal("lsh", lsh_counted(heads, seq, d, o),
                          attention::lsh_io_bytes(heads, seq, d, o));
            }
}

TEST_CASE(
    "LSH attention's bytes grow linearly in seq where naive's grow as seq²; counting "
    "changes no result") {
  const attention::lsh_options o{8, 2, 64, false, 1};
  const std::size_t d = 64;
  for (std::size_t seq : {1024, 2048, 4096}) {
    CAPTURE(seq);
    const double lsh = double(attention::lsh_io_bytes(1, seq, d, o).total());
    const double lsh2 = double(attention::lsh_io_bytes(1, 2 * seq, d, o).total());
    const double naive = double(attention::naive_io_bytes({1, 1, seq, seq, d}).total());
    const double naive2 = double(attention::naive_io_bytes({1, 1, 2 * seq, 2 * seq, d}).total());
    CHECK(lsh2 / lsh == doctest::Approx(2.0).epsilon(0.02));  // W = 2N − chunk: a little over 2
    CHECK(naive2 / naive > 3.5);
  }
  rng gen(8);
  const auto qk = random_normal<3>({2, 90, 16}, gen);
  const auto v = random_normal<3>({2, 90, 16}, gen);
  io_bytes io;
  attention::lsh_options counted{4, 3, 16, true, 2};
  const tensor<3> plain = attention::lsh(qk, v, counted);
  counted.io = &io;
  CHECK(testing::max_abs_diff(attention::lsh(qk, v, counted), plain) == 0);
  CHECK(io.total() > 0);
}
