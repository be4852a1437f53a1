// LSH attention against references in double precision that share no code with
// core: exact shared-QK attention, and LSH's own definition (the union of the
// windows of every round, softmax over it) computed from the buckets by a
// std::stable_sort, pair by pair.
#include "attention/lsh.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "attention/experiment.hpp"
#include "base/error.hpp"
#include "base/memory.hpp"
#include "base/random.hpp"
#include "reference.hpp"

using namespace memlab;
using attention::lsh_options;
using memlab::testing::max_abs_diff;

namespace {

// k_j = q_j / sqrt(|q_j|² + d · 1e-6), in double.
std::vector<double> reference_keys(const tensor<3>& qk, std::size_t h) {
  const std::size_t seq = qk.shape(1), d = qk.shape(2);
  std::vector<double> k(seq * d);
  for (std::size_t j = 0; j < seq; ++j) {
    double norm2 = 0;
    for (std::size_t c = 0; c < d; ++c) norm2 += double(qk(h, j, c)) * qk(h, j, c);
    for (std::size_t c = 0; c < d; ++c) k[j * d + c] = qk(h, j, c) / std::sqrt(norm2 + 1e-6 * d);
  }
  return k;
}

// softmax_j(q_i · k_j) over the positions `seen(i, j)` allows, self excluded
// unless nothing else is seen. out [heads, seq, d].
template <class Seen>
std::vector<double> reference_shared_qk(const tensor<3>& qk, const tensor<3>& v, Seen&& seen) {
  const std::size_t heads = qk.shape(0), seq = qk.shape(1), d = qk.shape(2);
  std::vector<double> out(heads * seq * d, 0.0);
  for (std::size_t h = 0; h < heads; ++h) {
    const std::vector<double> k = reference_keys(qk, h);
    for (std::size_t i = 0; i < seq; ++i) {
      std::vector<std::size_t> js;
      for (std::size_t j = 0; j < seq; ++j)
        if (j != i && seen(h, i, j)) js.push_back(j);
      double* o = &out[(h * seq + i) * d];
      if (js.empty()) {
        for (std::size_t c = 0; c < d; ++c) o[c] = v(h, i, c);
        continue;
      }
      std::vector<double> s;
      for (std::size_t j : js) {
        double dot = 0;
        for (std::size_t c = 0; c < d; ++c) dot += double(qk(h, i, c)) * k[j * d + c];
        s.push_back(dot);
      }
      const double max = *std::max_element(s.begin(), s.end());
      double sum = 0;
      for (double& x : s) sum += (x = std::exp(x - max));
      for (std::size_t n = 0; n < js.size(); ++n)
        for (std::size_t c = 0; c < d; ++c) o[c] += s[n] / sum * v(h, js[n], c);
    }
  }
  return out;
}

std::vector<double> reference_exact(const tensor<3>& qk, const tensor<3>& v, bool causal) {
  return reference_shared_qk(
      qk, v, [&](std::size_t, std::size_t i, std::size_t j) { return !causal || j <= i; });
}

// LSH by its definition: in round r, j is in i's window when, in the positions
// sorted by (bucket, position), j's chunk is i's chunk or the one before.
std::vector<double> reference_lsh(const tensor<3>& qk, const tensor<3>& v,
                                  const buffer<std::uint32_t>& buckets, const lsh_options& o) {
  const std::size_t heads = qk.shape(0), seq = qk.shape(1);
  const std::size_t chunk = std::min(o.chunk, seq);
  // chunk_of[(h, r, p)]
  std::vector<std::size_t> chunk_of(heads * o.n_rounds * seq);
  for (std::size_t hr = 0; hr < heads * o.n_rounds; ++hr) {
    std::vector<std::size_t> order(seq);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return buckets[hr * seq + a] < buckets[hr * seq + b];
    });
    for (std::size_t k = 0; k < seq; ++k) chunk_of[hr * seq + order[k]] = k / chunk;
  }
  return reference_shared_qk(qk, v, [&](std::size_t h, std::size_t i, std::size_t j) {
    if (o.causal && j > i) return false;
    for (std::size_t r = 0; r < o.n_rounds; ++r) {
      const std::size_t base = (h * o.n_rounds + r) * seq;
      const std::size_t ci = chunk_of[base + i], cj = chunk_of[base + j];
      if (cj == ci || cj + 1 == ci) return true;
    }
    return false;
  });
}

std::string describe(std::size_t seq, std::size_t d, const lsh_options& o) {
  return "seq " + std::to_string(seq) + ", head_dim " + std::to_string(d) + ", n_buckets " +
         std::to_string(o.n_buckets) + ", n_rounds " + std::to_string(o.n_rounds) + ", chunk " +
         std::to_string(o.chunk) + (o.causal ? ", causal" : "");
}

}  // namespace

TEST_CASE("LSH with one bucket and one chunk covering the sequence is exact shared-QK attention") {
  rng gen(3);
  for (const bool causal : {false, true})
    for (const std::size_t rounds : {1, 3}) {
      const lsh_options o{1, rounds, 48, causal, 7};
      CAPTURE(describe(48, 16, o));
      const auto qk = random_normal<3>({2, 48, 16}, gen);
      const auto v = random_normal<3>({2, 48, 16}, gen);
      const auto expected = reference_exact(qk, v, causal);
      CHECK(max_abs_diff(attention::lsh(qk, v, o), expected) <= 1e-5);
      CHECK(max_abs_diff(attention::shared_qk_naive(qk, v, causal), expected) <= 1e-5);
    }
}

TEST_CASE("a chunk longer than the sequence is one chunk: exact again") {
  rng gen(4);
  const auto qk = random_normal<3>({1, 20, 8}, gen);
  const auto v = random_normal<3>({1, 20, 8}, gen);
  const lsh_options o{1, 2, 64, true, 1};
  CHECK(max_abs_diff(attention::lsh(qk, v, o), reference_exact(qk, v, true)) <= 1e-5);
}

TEST_CASE("LSH equals its definition: softmax over the union of every round's windows") {
  const lsh_options cases[] = {
      {4, 1, 8, false, 1}, {4, 2, 8, false, 2},  {8, 3, 5, false, 3},   // chunks not dividing seq
      {8, 3, 5, true, 4},  {2, 4, 16, true, 5},  {16, 2, 1, false, 6},  // one-position chunks
      {16, 2, 1, true, 7}, {6, 8, 12, false, 8},
  };
  rng gen(11);
  for (const auto& o : cases) {
    CAPTURE(describe(37, 12, o));
    const auto qk = random_normal<3>({2, 37, 12}, gen);
    const auto v = random_normal<3>({2, 37, 12}, gen);
    const auto buckets = attention::lsh_buckets(qk, o);
    CHECK(max_abs_diff(attention::lsh(qk, v, o), reference_lsh(qk, v, buckets, o)) <= 1e-5);
  }
}

TEST_CASE("buckets are argmax([xR, -xR]) over the seeded rotations, first maximum on ties") {
  rng gen(5);
  const lsh_options o{8, 3, 4, false, 99};
  const auto qk = random_normal<3>({2, 30, 6}, gen);
  const tensor<4> rotations = attention::lsh_rotations(2, 6, o);
  REQUIRE(rotations.shape(0) == 2);
  REQUIRE(rotations.shape(1) == 3);
  REQUIRE(rotations.shape(2) == 6);
  REQUIRE(rotations.shape(3) == 4);
  const auto buckets = attention::lsh_buckets(qk, o);
  for (std::size_t h = 0; h < 2; ++h)
    for (std::size_t r = 0; r < 3; ++r)
      for (std::size_t p = 0; p < 30; ++p) {
        std::vector<double> rotated(8);
        for (std::size_t b = 0; b < 4; ++b) {
          for (std::size_t c = 0; c < 6; ++c)
            rotated[b] += double(qk(h, p, c)) * rotations(h, r, c, b);
          rotated[b + 4] = -rotated[b];
        }
        const auto expected = std::max_element(rotated.begin(), rotated.end()) - rotated.begin();
        CAPTURE(h);
        CAPTURE(r);
        CAPTURE(p);
        CHECK(buckets[(h * 3 + r) * 30 + p] == expected);
      }

  // A hand-made rotation: R = [e0, e1] in 2 dimensions, 4 buckets: x = (3, -1)
  // gives [3, -1, -3, 1] -> bucket 0; (-1, -2) -> [-1, -2, 1, 2] -> 3; (1, 1) ties
  // between buckets 0 and 1 -> the first, 0.
  const float r[] = {1, 0, 0, 1};  // [head_dim 2, n_buckets/2 2], row-major
  const float x0[] = {3, -1}, x1[] = {-1, -2}, x2[] = {1, 1};
  CHECK(attention::lsh_bucket(x0, r, 2, 4) == 0);
  CHECK(attention::lsh_bucket(x1, r, 2, 4) == 3);
  CHECK(attention::lsh_bucket(x2, r, 2, 4) == 0);
}

TEST_CASE(
    "the seeded rotations and buckets are the same on every platform (also checked in wasm)") {
  // The rotations come from memlab::rng (splitmix64 + Box–Muller) and the
  // projections are summed in double, so these are what the wasm build computes
  // too: wasm/test/lsh.test.mjs expects the same numbers for the same input,
  // qk[p, c] = ((8p + c) · 37 mod 17 - 8) / 4 (exact in float).
  auto qk = tensor<3>::from_shape({1, 16, 8});
  for (std::size_t p = 0; p < 16; ++p)
    for (std::size_t c = 0; c < 8; ++c)
      qk(0, p, c) = static_cast<float>(static_cast<int>((8 * p + c) * 37 % 17) - 8) / 4;
  const lsh_options o{8, 2, 4, false, 1};
  const tensor<4> rotations = attention::lsh_rotations(1, 8, o);
  const std::vector<float> first(rotations.begin(), rotations.begin() + 4);
  CHECK(first == std::vector<float>{-0.034267623f, -1.29260838f, -2.50006652f, 0.911466897f});
  const auto buckets = attention::lsh_buckets(qk, o);
  CHECK(std::vector<std::uint32_t>(buckets.begin(), buckets.end()) ==
        std::vector<std::uint32_t>{2, 6, 2, 2, 6, 2, 6, 2, 4, 6, 2, 6, 3, 4, 6, 2,
                                   3, 5, 2, 5, 1, 3, 7, 2, 4, 1, 3, 7, 3, 5, 7, 5});
}

TEST_CASE("sort and unsort: a permutation, by (bucket, position), stable, inverted by unsort") {
  rng gen(6);
  for (const std::size_t n_buckets : {1, 2, 7, 64}) {
    CAPTURE(n_buckets);
    const std::size_t seq = 200;
    std::vector<std::uint32_t> buckets(seq);
    for (auto& b : buckets)  // skewed: some buckets empty, some crowded
      b = static_cast<std::uint32_t>(gen.uniform() * gen.uniform() * n_buckets);
    const auto order = attention::lsh_sort(buckets.data(), seq, n_buckets);
    REQUIRE(order.size() == seq);
    std::vector<bool> hit(seq, false);
    for (const auto p : order) {
      REQUIRE(p < seq);
      CHECK_FALSE(hit[p]);  // each position once
      hit[p] = true;
    }
    for (std::size_t k = 1; k < seq; ++k) {
      const auto a = order[k - 1], b = order[k];
      CAPTURE(k);
      CHECK(buckets[a] <= buckets[b]);             // by bucket
      if (buckets[a] == buckets[b]) CHECK(a < b);  // stable: by position within
    }
    const auto undo = attention::lsh_unsort(order);
    for (std::size_t k = 0; k < seq; ++k) CHECK(undo[order[k]] == k);
    for (std::size_t p = 0; p < seq; ++p) CHECK(order[undo[p]] == p);
  }
  const std::uint32_t one_bucket[] = {0, 0, 0, 0};
  const auto identity = attention::lsh_sort(one_bucket, 4, 1);
  CHECK(std::vector<std::uint32_t>(identity.begin(), identity.end()) ==
        std::vector<std::uint32_t>{0, 1, 2, 3});
}

TEST_CASE("deterministic: same seed, same bits; another seed, other buckets") {
  rng gen(8);
  const auto qk = random_normal<3>({2, 64, 16}, gen);
  const auto v = random_normal<3>({2, 64, 16}, gen);
  const lsh_options o{8, 2, 8, true, 5};
  const tensor<3> a = attention::lsh(qk, v, o), b = attention::lsh(qk, v, o);
  CHECK(std::equal(a.begin(), a.end(), b.begin()));
  lsh_options other = o;
  other.seed = 6;
  const auto ba = attention::lsh_buckets(qk, o), bb = attention::lsh_buckets(qk, other);
  CHECK_FALSE(std::equal(ba.begin(), ba.end(), bb.begin()));
}

TEST_CASE("a position that sees nothing but itself attends to itself") {
  rng gen(9);
  const auto qk = random_normal<3>({1, 10, 4}, gen);
  const auto v = random_normal<3>({1, 10, 4}, gen);
  // Causal: position 0 sees only itself, in every round.
  const tensor<3> causal = attention::lsh(qk, v, {4, 2, 3, true, 1});
  for (std::size_t c = 0; c < 4; ++c) CHECK(causal(0, 0, c) == v(0, 0, c));
  // Chunks of one: the first position of the sorted order has no chunk before it.
  const lsh_options alone{4, 1, 1, false, 1};
  const auto buckets = attention::lsh_buckets(qk, alone);
  const auto order = attention::lsh_sort(buckets.data(), 10, 4);
  const tensor<3> out = attention::lsh(qk, v, alone);
  for (std::size_t c = 0; c < 4; ++c) CHECK(out(0, order[0], c) == v(0, order[0], c));
  // ... and the second sees exactly the first: out = v of the first.
  for (std::size_t c = 0; c < 4; ++c)
    CHECK(out(0, order[1], c) == doctest::Approx(v(0, order[0], c)));
}

TEST_CASE("LSH's tracked scratch is exactly lsh_scratch_bytes, with no seq × seq term") {
  rng gen(10);
  for (const std::size_t seq : {100, 2048}) {
    CAPTURE(seq);
    const lsh_options o{16, 4, 64, true, 1};
    const auto qk = random_normal<3>({2, seq, 32}, gen);
    const auto v = random_normal<3>({2, seq, 32}, gen);
    const std::size_t out_bytes = 2 * seq * 32 * sizeof(float);
    memory::peak_scope scope;
    const tensor<3> out = attention::lsh(qk, v, o);
    CHECK(scope.peak_bytes() == out_bytes + attention::lsh_scratch_bytes(2, seq, 32, o));
    if (seq == 2048)  // naive's scores alone: 2 · 2048² floats = 32 MiB
      CHECK(attention::lsh_scratch_bytes(2, seq, 32, o) < 2 * seq * seq * sizeof(float) / 50);
  }
}

TEST_CASE("LSH bad input names the argument") {
  const auto qk = tensor<3>::from_shape({1, 8, 4});
  const auto v = tensor<3>::from_shape({1, 8, 4});
  const auto bad_v = tensor<3>::from_shape({1, 8, 5});
  auto message = [&](const lsh_options& o, const tensor<3>& values) {
    try {
      attention::lsh(qk, values, o);
    } catch (const memlab::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(
      message({3, 1, 4, false, 1}, v) ==
      "n_buckets = 3: expected 1 or an even number (argmax over [xR, -xR] gives pairs of buckets)");
  CHECK(message({4, 0, 4, false, 1}, v) == "n_rounds = 0: expected in [1, 64]");
  CHECK(message({4, 1, 0, false, 1}, v) == "chunk = 0: expected at least 1 position per chunk");
  CHECK(message({4, 1, 4, false, 1}, bad_v) ==
        "v.shape = [1, 8, 5]: expected the same as qk.shape = [1, 8, 4]");
  const std::uint32_t buckets[] = {0, 5};
  CHECK_THROWS_WITH_AS(attention::lsh_sort(buckets, 2, 4),
                       "bucket = 5: expected below n_buckets = 4", memlab::invalid_argument);
}

TEST_CASE("run_lsh_errors: poor on random data, close on clustered keys once it hashes 8 times") {
  experiments::lsh_errors_config c;
  c.seq = 512;
  c.head_dim = 32;
  c.chunk = 32;
  c.buckets = {32};
  c.rounds = {1, 8};
  const auto rows = experiments::run_lsh_errors(c);
  REQUIRE(rows.size() == 4);
  auto error = [&](const char* data, int rounds) {
    for (const auto& r : rows)
      if (r.data == data && r.n_rounds == rounds) return r.relative_error;
    FAIL("no row for " << data << ", " << rounds << " rounds");
    return 0.0;
  };
  CHECK(error("clustered", 8) < 0.2);
  CHECK(error("random", 8) > 3 * error("clustered", 8));
  CHECK(error("clustered", 8) < error("clustered", 1) / 4);  // rounds find the missed neighbours
  CHECK(error("random", 1) > 1);  // 63 keys of 511: further from exact than zero is
}

TEST_CASE("run_lsh: peak is output + scratch exactly; naive grows as seq², LSH as seq") {
  experiments::lsh_config c;
  c.head_dim = 32;
  c.repeats = 1;
  c.run_exact = false;
  c.run_flash = false;
  c.seq = 512;
  const auto small = experiments::run_lsh(c);
  c.seq = 1024;
  const auto large = experiments::run_lsh(c);
  for (const auto* f : {&small, &large}) {
    CAPTURE(f->config.seq);
    CHECK(f->lsh.peak_bytes == f->config.seq * 32 * sizeof(float) + f->scratch_bytes);
    CHECK(std::isnan(f->relative_error));  // no exact run, no error figure
  }
  CHECK(double(large.naive.peak_bytes) / small.naive.peak_bytes > 3.5);
  CHECK(double(large.lsh.peak_bytes) / small.lsh.peak_bytes < 2.1);
}
