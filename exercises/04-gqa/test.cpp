// Exercise 4 — GQA / MQA: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

namespace {

// Multi-head attention on K/V repeated to every query head ("repeat_kv"): the
// independent reference, in double. q [heads·seq, d], k and v [kv_heads·seq, d].
std::vector<double> reference_gqa(const lab::matrix& q, const lab::matrix& k, const lab::matrix& v,
                                  std::size_t heads, std::size_t kv_heads) {
  const std::size_t seq = q.rows() / heads, d = q.cols(), group = heads / kv_heads;
  std::vector<double> out;
  for (std::size_t h = 0; h < heads; ++h) {
    const std::size_t g = h / group;
    const auto head = [&](const lab::matrix& m, std::size_t i) {
      return m.view().rows_view(i * seq, seq);
    };
    const std::vector<double> o =
        lab::testing::reference_attention(head(q, h), head(k, g), head(v, g), false);
    out.insert(out.end(), o.begin(), o.end());
  }
  return out;
}

// True when kv_head_for maps every query head to a K/V head that exists: else
// gqa_attention would read past the end of k and v, and the test stops there.
bool heads_in_range(std::size_t heads, std::size_t kv_heads) {
  for (std::size_t h = 0; h < heads; ++h) {
    const std::size_t g = kv_head_for(h, heads, kv_heads);
    if (!CHECK_MESSAGE(g < kv_heads, "kv_head_for(" << h << ", " << heads << ", " << kv_heads
                                                    << ") = " << g << ", past the last K/V head "
                                                    << kv_heads - 1 << ": attention not run"))
      return false;
  }
  return true;
}

std::string mib(std::uint64_t bytes) {
  std::ostringstream s;
  s << bytes << " bytes (" << static_cast<double>(bytes) / (1024 * 1024) << " MiB)";
  return s.str();
}

}  // namespace

TEST_CASE("kv_head_for maps query heads to K/V heads: MHA, GQA, MQA") {
  const struct {
    std::size_t heads, kv_heads;
    std::vector<std::size_t> expected;  // kv head of query heads 0, 1, ...
  } cases[] = {
      {4, 4, {0, 1, 2, 3}},              // MHA: each head its own
      {8, 2, {0, 0, 0, 0, 1, 1, 1, 1}},  // GQA: groups of 4 consecutive heads
      {6, 3, {0, 0, 1, 1, 2, 2}},
      {4, 1, {0, 0, 0, 0}},  // MQA: one K/V head for all
  };
  for (const auto& c : cases)
    for (std::size_t h = 0; h < c.heads; ++h)
      CHECK_MESSAGE(kv_head_for(h, c.heads, c.kv_heads) == c.expected[h],
                    "heads " << c.heads << ", kv_heads " << c.kv_heads << ": query head " << h
                             << " reads K/V head " << kv_head_for(h, c.heads, c.kv_heads)
                             << ", expected " << c.expected[h]);
}

TEST_CASE("kv_cache_bytes of published models, hand-computed, in 64 bits") {
  // 2 · layers · kv_heads · head_dim · seq · batch · bytes_per_value
  const struct {
    std::string name;
    model_shape m;
    std::uint64_t seq, batch, bytes_per_value, expected;
  } cases[] = {
      // 2 · 32 · 32 · 128 · 4096 · 1 · 2 = 2 GiB
      {"Llama-2-7B (MHA), 4096 tokens, fp16", {32, 32, 32, 128}, 4096, 1, 2, 2147483648ull},
      // 2 · 80 · 8 · 128 · 4096 · 1 · 2 = 1.25 GiB: 8x fewer K/V heads than query heads
      {"Llama-2-70B (GQA, 8 kv heads), 4096 tokens, fp16",
       {80, 64, 8, 128},
       4096,
       1,
       2,
       1342177280ull},
      // 2 · 32 · 8 · 128 · 8192 · 4 · 2 = 4 GiB: beyond 32 bits
      {"Mistral-7B (GQA, 8 kv heads), 8192 tokens, batch 4, fp16",
       {32, 32, 8, 128},
       8192,
       4,
       2,
       4294967296ull},
      // 2 · 32 · 1 · 64 · 2048 · 1 · 2 = 16 MiB
      {"Falcon-7B (MQA), 2048 tokens, fp16", {32, 71, 1, 64}, 2048, 1, 2, 16777216ull},
      // 2 · 32 · 32 · 128 · 4096 · 8 · 4 = 32 GiB
      {"Llama-2-7B, 4096 tokens, batch 8, fp32", {32, 32, 32, 128}, 4096, 8, 4, 34359738368ull},
  };
  for (const auto& c : cases) {
    const std::uint64_t got = kv_cache_bytes(c.m, c.seq, c.batch, c.bytes_per_value);
    CHECK_MESSAGE(got == c.expected,
                  c.name << ": got " << mib(got) << ", expected " << mib(c.expected));
  }
}

TEST_CASE("GQA attention equals multi-head attention on K/V repeated to every head") {
  const struct {
    std::size_t heads, kv_heads, seq, d;
  } cases[] = {{4, 4, 20, 8}, {8, 2, 17, 16}, {6, 3, 9, 5}, {4, 1, 33, 12}, {2, 1, 1, 4}};
  lab::rng gen(5);
  for (const auto& c : cases) {
    const lab::matrix q = lab::testing::random_matrix(gen, c.heads * c.seq, c.d);
    const lab::matrix k = lab::testing::random_matrix(gen, c.kv_heads * c.seq, c.d);
    const lab::matrix v = lab::testing::random_matrix(gen, c.kv_heads * c.seq, c.d);
    lab::matrix out(q.rows(), c.d, std::numeric_limits<float>::quiet_NaN());
    if (!heads_in_range(c.heads, c.kv_heads)) continue;
    gqa_attention(q, k, v, out, c.heads, c.kv_heads);
    INFO("heads " << c.heads << ", kv_heads " << c.kv_heads << ", seq " << c.seq << ", d " << c.d
                  << " (row r of out is head r / seq, position r % seq)");
    CHECK_CLOSE_MATRIX("out", out.values(), reference_gqa(q, k, v, c.heads, c.kv_heads), c.d, 1e-5);
  }
}

TEST_CASE("GQA attention stays finite on logits of 1e4: each head picks its group's key") {
  // heads 4 over kv_heads 2, seq 3, d 4 (scale 1/2): query head h has rows
  // (200 a_h, 0, 0, 0), K/V head g keys (50 b_gj, 0, 0, 0): logits 5000 a_h b_gj,
  // 1e4 apart, so each row's softmax is one-hot on the key of largest a_h b_gj of
  // its own group, and out is that V row exactly.
  const float a[4] = {1, -1, 1, -1};               // query heads 0, 1 | 2, 3
  const float b[2][3] = {{1, -2, 2}, {3, 0, -1}};  // K/V heads 0 | 1
  const std::size_t picked[4] = {2, 1, 0, 2};      // argmax_j a_h b_gj, g = h / 2
  const std::size_t heads = 4, kv_heads = 2, seq = 3, d = 4;
  lab::matrix q(heads * seq, d), k(kv_heads * seq, d), v(kv_heads * seq, d);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < seq; ++i) q(h * seq + i, 0) = 200 * a[h];
  for (std::size_t g = 0; g < kv_heads; ++g)
    for (std::size_t j = 0; j < seq; ++j) {
      k(g * seq + j, 0) = 50 * b[g][j];
      for (std::size_t c = 0; c < d; ++c)
        v(g * seq + j, c) = static_cast<float>(100 * g + 10 * j + c);
    }
  std::vector<float> expected;
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < seq; ++i)
      for (std::size_t c = 0; c < d; ++c) expected.push_back(v((h / 2) * seq + picked[h], c));
  lab::matrix out(q.rows(), d, std::numeric_limits<float>::quiet_NaN());
  if (!heads_in_range(heads, kv_heads)) return;
  gqa_attention(q, k, v, out, heads, kv_heads);
  INFO("heads 4, kv_heads 2, seq 3, d 4, logits 5000 · a_h · b_gj (row r of out is head r / 3)");
  CHECK_FINITE("out", out.values(), d, "exp overflowed: row max not subtracted?");
  CHECK_CLOSE_MATRIX("out", out.values(), expected, d, 1e-4);
}

TEST_CASE("GQA reads the shared K/V heads in place: scratch of one row of scores") {
  // heads 8, kv_heads 2, seq 256, d 64: one K/V head is 64 KiB; repeat_kv would
  // allocate 8 of them for K and 8 for V (1 MiB). A row of scores is 1 KiB: with
  // a few vectors of d floats, 1.5 KiB is all the scratch attention needs.
  const std::size_t heads = 8, kv_heads = 2, seq = 256, d = 64;
  lab::rng gen(6);
  const lab::matrix q = lab::testing::random_matrix(gen, heads * seq, d);
  const lab::matrix k = lab::testing::random_matrix(gen, kv_heads * seq, d);
  const lab::matrix v = lab::testing::random_matrix(gen, kv_heads * seq, d);
  lab::matrix out(q.rows(), d, std::numeric_limits<float>::quiet_NaN());
  std::size_t peak = 0;
  if (!heads_in_range(heads, kv_heads)) return;
  {
    lab::heap_scope scope;
    gqa_attention(q, k, v, out, heads, kv_heads);
    peak = scope.peak_bytes();
  }
  CHECK_CLOSE_MATRIX("out", out.values(), reference_gqa(q, k, v, heads, kv_heads), d, 1e-5);
  const std::size_t one_head = seq * d * sizeof(float);
  const std::size_t bound = (seq + 2 * d) * sizeof(float);
  CHECK_MESSAGE(peak <= bound, "peak heap "
                                   << lab::testing::bytes(peak) << ", expected at most "
                                   << lab::testing::bytes(bound) << ": one row of " << seq
                                   << " scores and two vectors of d floats. "
                                   << std::string(peak >= one_head / 4
                                                      ? "That is a K/V head's worth: read k and v "
                                                        "where they are (no repeat_kv copy)"
                                                      : "Scores of more than one row at a time?"));
}

// The page's chart once the tests pass: your gqa_attention against the core's
// (8 query heads over 2 K/V heads, d 64) by sequence length.
MEMLAB_BENCHMARK("gqa_attention", "seq", 64, 128, 256, 512) {
  lab::rng gen(7);
  const lab::matrix q = lab::testing::random_matrix(gen, 8 * n, 64);
  const lab::matrix k = lab::testing::random_matrix(gen, 2 * n, 64);
  const lab::matrix v = lab::testing::random_matrix(gen, 2 * n, 64);
  lab::matrix out(8 * n, 64);
  lab::bench::report(n, lab::bench::measure([&] { gqa_attention(q, k, v, out, 8, 2); }));
}
