// Exercise 2 — FlashAttention forward: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

#include "exercise.cpp"
#include "memlab_test.hpp"

using lab::testing::reference_attention;

namespace {

struct shape {
  std::size_t seq_q, seq_kv, d, block;
};

std::string describe(const shape& c) {
  return "seq_q " + std::to_string(c.seq_q) + ", seq_kv " + std::to_string(c.seq_kv) + ", d " +
         std::to_string(c.d) + ", block " + std::to_string(c.block);
}

// flash_attention into an output first filled with NaN.
lab::matrix run(const lab::matrix& q, const lab::matrix& k, const lab::matrix& v,
                std::size_t block) {
  lab::matrix out(q.rows(), q.cols(), std::numeric_limits<float>::quiet_NaN());
  flash_attention(q, k, v, out, block);
  return out;
}

}  // namespace

TEST_CASE("flash_attention matches a double-precision reference, tiles that divide seq or not") {
  const shape cases[] = {
      {64, 64, 16, 16},                      // seq a multiple of the tile
      {100, 100, 32, 32},                    // a partial last tile
      {77, 50, 24, 16},                      // seq_q != seq_kv
      {40, 60, 16, 16},   {33, 33, 33, 64},  // one tile bigger than seq, odd d
      {19, 19, 5, 1},                        // 1 × 1 tiles: the online softmax does all the work
      {1, 1, 8, 4},                          // a single key: out = v
  };
  lab::rng gen(7);
  for (const shape& c : cases) {
    const lab::matrix q = lab::testing::random_matrix(gen, c.seq_q, c.d);
    const lab::matrix k = lab::testing::random_matrix(gen, c.seq_kv, c.d);
    const lab::matrix v = lab::testing::random_matrix(gen, c.seq_kv, c.d);
    INFO(describe(c));
    CHECK_CLOSE_MATRIX("out", run(q, k, v, c.block).values(), reference_attention(q, k, v, false),
                       c.d, 1e-5);
  }
}

TEST_CASE("logits of magnitude 1e4 stay finite and give the hand-computed output") {
  // d = 4 (scale 1/2): q_i = (200 a_i, 0, 0, 0), k_j = (50 b_j, 0, 0, 0) give
  // logits 5000 a_i b_j, up to 2e4 apart. A unique largest logit makes softmax
  // one-hot (the next weight is below e^-5000): out_i is that key's V row. Two
  // equal largest logits give the mean of their two V rows.
  const float a[] = {1, 2, -1, 2};
  const float b[] = {1, -2, 2, 0, -1, 2};  // keys 2 and 5 tie for a > 0
  lab::matrix q(4, 4), k(6, 4), v(6, 4);
  for (std::size_t i = 0; i < 4; ++i) q(i, 0) = 200 * a[i];
  for (std::size_t j = 0; j < 6; ++j) {
    k(j, 0) = 50 * b[j];
    for (std::size_t c = 0; c < 4; ++c) v(j, c) = static_cast<float>(10 * j + c);
  }
  // a > 0: keys 2 and 5 tie (logit 1e4 a): mean of rows 2 and 5. a = -1: key 1 (b = -2).
  const std::vector<float> expected = {35, 36, 37, 38, 35, 36, 37, 38,
                                       10, 11, 12, 13, 35, 36, 37, 38};
  for (std::size_t block : {1, 2, 4, 64}) {
    INFO("block " << block << ", logits up to 2e4 apart");
    const lab::matrix out = run(q, k, v, block);
    CHECK_FINITE("out", out.values(), 4,
                 "exp overflowed: row max not subtracted, or the running max m not kept across "
                 "tiles (m_new = max(m, tile max))?");
    CHECK_CLOSE_MATRIX("out", out.values(), expected, 4, 1e-4);
  }
}

TEST_CASE("peak heap is the same at every seq_q and seq_kv: one tile of scores, never seq²") {
  // The test allocates q, k, v and out before measuring: the peak is your
  // scratch. A tiled pass needs one block × block tile of scores and m, l, acc
  // of one Q tile, whatever the sequence: 6.25 KiB here (d 16, block 32). Scores
  // of a Q tile against every key grow with seq_kv; m and l kept for every query
  // row grow with seq_q; the materialised score matrix is 4 MiB at 1024 × 1024.
  const std::size_t d = 16, block = 32;
  const std::size_t tile_bytes = (block * block + 2 * block + block * d) * sizeof(float);
  const struct {
    std::size_t seq_q, seq_kv;
  } sizes[] = {{256, 256}, {1024, 256}, {256, 1024}, {1024, 1024}};
  lab::rng gen(11);
  std::size_t peak[4] = {0, 0, 0, 0};
  std::string peaks;
  for (int n = 0; n < 4; ++n) {
    const std::size_t seq_q = sizes[n].seq_q, seq_kv = sizes[n].seq_kv;
    const lab::matrix q = lab::testing::random_matrix(gen, seq_q, d);
    const lab::matrix k = lab::testing::random_matrix(gen, seq_kv, d);
    const lab::matrix v = lab::testing::random_matrix(gen, seq_kv, d);
    lab::matrix out(seq_q, d, std::numeric_limits<float>::quiet_NaN());
    {
      lab::heap_scope scope;
      flash_attention(q, k, v, out, block);
      peak[n] = scope.peak_bytes();
    }
    peaks += (n ? ", " : "") + lab::testing::bytes(peak[n]) + " at " + std::to_string(seq_q) +
             " × " + std::to_string(seq_kv);
    if (n == 1 || n == 2) {  // the output must be right too (checked on the two mid-sized runs)
      INFO("seq_q " << seq_q << ", seq_kv " << seq_kv << ", d " << d << ", block " << block);
      CHECK_CLOSE_MATRIX("out", out.values(), reference_attention(q, k, v, false), d, 1e-5);
    }
  }
  INFO("peak heap of flash_attention (seq_q × seq_kv, d 16, block 32): " << peaks);
  CHECK_MESSAGE(peak[1] == peak[0],
                "it grows with seq_q: state kept for every query row "
                "instead of the rows of one Q tile?");
  CHECK_MESSAGE(peak[2] == peak[0],
                "it grows with seq_kv: scores of a Q tile against every key "
                "instead of one K/V tile at a time?");
  CHECK_MESSAGE(peak[3] <= tile_bytes,
                "expected at most " << lab::testing::bytes(tile_bytes)
                                    << " at every size (the skeleton's scratch: block × block "
                                       "scores, m, l and acc of one Q tile)");
}

// The page's chart once the tests pass: your flash_attention against the core's
// (one head, d 64, tiles of 64) by sequence length.
MEMLAB_BENCHMARK("flash_attention", "seq", 128, 256, 512, 1024, 2048) {
  lab::rng gen(4);
  const lab::matrix q = lab::testing::random_matrix(gen, n, 64);
  const lab::matrix k = lab::testing::random_matrix(gen, n, 64);
  const lab::matrix v = lab::testing::random_matrix(gen, n, 64);
  lab::matrix out(n, 64);
  lab::bench::report(n, lab::bench::measure([&] { flash_attention(q, k, v, out, 64); }));
}
