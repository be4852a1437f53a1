// Exercise 12 — LSH attention: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

namespace {

// ---- references, in double, sharing nothing with exercise.cpp -------------------

// argmax([xR, -xR]) in double, the first on ties.
std::uint32_t reference_bucket(lab::span<const float> x, lab::matrix_view<const float> r) {
  const std::size_t half = r.cols();
  std::vector<double> rotated(2 * half, 0.0);
  for (std::size_t b = 0; b < half; ++b) {
    for (std::size_t c = 0; c < x.size(); ++c) rotated[b] += double(x[c]) * r(c, b);
    rotated[b + half] = -rotated[b];
  }
  return static_cast<std::uint32_t>(std::max_element(rotated.begin(), rotated.end()) -
                                    rotated.begin());
}

std::vector<std::uint32_t> reference_order(lab::matrix_view<const float> qk,
                                           lab::matrix_view<const float> r) {
  std::vector<std::uint32_t> buckets(qk.rows()), order(qk.rows());
  for (std::size_t p = 0; p < qk.rows(); ++p) buckets[p] = reference_bucket(qk.row(p), r);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::uint32_t a, std::uint32_t b) { return buckets[a] < buckets[b]; });
  return order;
}

// LSH attention by its definition, and the common mistakes as variants of it.
struct variant {
  const char* mistake = nullptr;  // what the learner's output matches, when it is this
  bool previous = true;           // attend to the chunk before
  bool wrap = false;              // the first chunk sees the last one
  bool self = false;              // the own key always counts
  bool normalise = true;          // keys q_j / |q_j|
  bool scale = false;             // logits / sqrt(d)
  bool sorted_out = false;        // output rows left in sorted order
  bool causal_sorted = false;     // causal mask on sorted indices
};

std::vector<double> reference_lsh(lab::matrix_view<const float> qk, lab::matrix_view<const float> v,
                                  const std::vector<std::uint32_t>& order, std::size_t chunk,
                                  bool causal, const variant& x = {}) {
  const std::size_t seq = qk.rows(), d = qk.cols();
  std::vector<double> norm(seq, 1.0);
  if (x.normalise)
    for (std::size_t j = 0; j < seq; ++j) {
      double n2 = 0;
      for (std::size_t c = 0; c < d; ++c) n2 += double(qk(j, c)) * qk(j, c);
      norm[j] = std::sqrt(n2);
    }
  std::vector<double> out(seq * d, 0.0);
  const std::size_t last_chunk = (seq - 1) / chunk * chunk;
  for (std::size_t a = 0; a < seq; ++a) {
    const std::size_t q0 = a / chunk * chunk;
    std::vector<std::size_t> seen;  // sorted indices of the keys a sees
    for (std::size_t b = q0; b < std::min(seq, q0 + chunk); ++b) seen.push_back(b);
    if (x.previous && q0 >= chunk)
      for (std::size_t b = q0 - chunk; b < q0; ++b) seen.push_back(b);
    if (x.wrap && q0 == 0 && last_chunk > 0)
      for (std::size_t b = last_chunk; b < seq; ++b) seen.push_back(b);
    const std::uint32_t i = order[a];
    std::vector<std::uint32_t> keys;
    for (const std::size_t b : seen) {
      const std::uint32_t j = order[b];
      if (causal && (x.causal_sorted ? b > a : j > i)) continue;
      if (j == i && !x.self) continue;
      keys.push_back(j);
    }
    double* o = &out[(x.sorted_out ? a : i) * d];
    if (keys.empty()) {
      for (std::size_t c = 0; c < d; ++c) o[c] = v(i, c);
      continue;
    }
    std::vector<double> s;
    for (const std::uint32_t j : keys) {
      double dot = 0;
      for (std::size_t c = 0; c < d; ++c) dot += double(qk(i, c)) * qk(j, c);
      s.push_back(dot / norm[j] / (x.scale ? std::sqrt(double(d)) : 1.0));
    }
    const double max = *std::max_element(s.begin(), s.end());
    double sum = 0;
    for (double& e : s) sum += (e = std::exp(e - max));
    for (std::size_t n = 0; n < keys.size(); ++n)
      for (std::size_t c = 0; c < d; ++c) o[c] += s[n] / sum * v(keys[n], c);
  }
  return out;
}

const variant mistakes[] = {
    {"attention within the own chunk only: also attend to the chunk before", false},
    {"the first chunk also seeing the last one: the first chunk has no chunk before it", true,
     true},
    {"attention that counts the query's own key: a position does not attend to itself unless "
     "nothing else is visible",
     true, false, true},
    {"logits q_i · q_j: the keys are unit vectors, k_j = q_j / |q_j|", true, false, false, false},
    {"logits divided by sqrt(d): LSH's keys are unit vectors, no scale", true, false, false, true,
     true},
    {"the outputs in sorted order: the row of sorted index k belongs at position order[k]", true,
     false, false, true, false, true},
    {"a causal mask on sorted indices: mask by position in the sequence (j <= i)", true, false,
     false, true, false, false, true},
};

// Checks out against LSH by definition; on a difference, says which mistake it matches.
void check_lsh(const lab::matrix& out, lab::matrix_view<const float> qk,
               lab::matrix_view<const float> v, lab::matrix_view<const float> r, std::size_t chunk,
               bool causal) {
  const std::vector<std::uint32_t> order = reference_order(qk, r);
  const std::vector<double> expected = reference_lsh(qk, v, order, chunk, causal);
  const lab::testing::difference worst = lab::testing::compare(out.values(), expected);
  std::string diagnosis;
  if (worst.max_abs > 1e-4)
    for (const variant& m : mistakes) {
      const std::vector<double> wrong = reference_lsh(qk, v, order, chunk, causal, m);
      if (lab::testing::compare(out.values(), wrong).max_abs <= 1e-4) {
        diagnosis = std::string(" — it matches ") + m.mistake;
        break;
      }
    }
  CHECK_MESSAGE(worst.max_abs <= 1e-4, lab::testing::describe("out", worst, 1e-4, qk.cols())
                                           << diagnosis);
}

lab::matrix nan_matrix(std::size_t rows, std::size_t cols) {
  return lab::matrix(rows, cols, std::numeric_limits<float>::quiet_NaN());
}

std::string vec_text(const std::vector<std::uint32_t>& x) {
  std::string s = "[";
  for (std::size_t i = 0; i < x.size(); ++i) s += (i ? ", " : "") + std::to_string(x[i]);
  return s + "]";
}

}  // namespace

TEST_CASE("hash_bucket: argmax of [xR, -xR], hand-computed") {
  // R = I (d = 2, 4 buckets): [xR, -xR] = [x0, x1, -x0, -x1].
  lab::matrix identity(2, 2);
  identity(0, 0) = identity(1, 1) = 1;
  const struct {
    float x0, x1;
    std::uint32_t bucket;
    const char* why;
  } cases[] = {
      {3, -1, 0, "[3, -1, -3, 1]: the largest is column 0"},
      {0.5f, 2, 1, "[0.5, 2, -0.5, -2]: the largest is column 1"},
      {-3, 1, 2, "[-3, 1, 3, -1]: the largest is column 2, from -xR"},
      {-1, -2, 3, "[-1, -2, 1, 2]: the largest is column 3, from -xR"},
      {1, 1, 0, "[1, 1, -1, -1] ties columns 0 and 1: the first largest, 0"},
  };
  for (const auto& c : cases) {
    const std::vector<float> x = {c.x0, c.x1};
    const std::uint32_t got = hash_bucket(x, identity);
    CHECK_MESSAGE(got == c.bucket, "hash_bucket((" << c.x0 << ", " << c.x1 << ")) = " << got
                                                   << ", expected " << c.bucket << ": "
                                                   << std::string(c.why));
  }
}

TEST_CASE("hash_bucket: random rotations; 2.5x in x's bucket, -x in the opposite one") {
  lab::rng gen(21);
  const lab::matrix r = lab::testing::random_matrix(gen, 8, 4);  // 8 buckets
  for (int n = 0; n < 200; ++n) {
    std::vector<float> x(8), scaled(8), negated(8);
    gen.fill_normal(x);
    for (std::size_t c = 0; c < 8; ++c) scaled[c] = 2.5f * x[c], negated[c] = -x[c];
    const std::uint32_t b = hash_bucket(x, r), expected = reference_bucket(x, r);
    INFO("x number " << n);
    if (!CHECK_MESSAGE(b == expected,
                       "hash_bucket(x) = " << b << ", expected " << expected
                                           << " (argmax of [xR, -xR] computed in double)"))
      break;
    CHECK_MESSAGE(hash_bucket(scaled, r) == b, "hash_bucket(2.5 x) = " << hash_bucket(scaled, r)
                                                                       << ", expected x's bucket "
                                                                       << b);
    if (!CHECK_MESSAGE(
            hash_bucket(negated, r) == (b + 4) % 8,
            "hash_bucket(-x) = " << hash_bucket(negated, r) << ", expected " << (b + 4) % 8
                                 << ": -x swaps xR and -xR, so its bucket is x's ± n_buckets/2"))
      break;
  }
}

TEST_CASE("sort_by_bucket: by bucket, and by position within a bucket") {
  const std::vector<std::uint32_t> hand = sort_by_bucket({2, 0, 2, 1, 0});
  CHECK_MESSAGE(hand == std::vector<std::uint32_t>({1, 4, 3, 0, 2}),
                "sort_by_bucket([2, 0, 2, 1, 0]) = "
                    << vec_text(hand)
                    << ", expected [1, 4, 3, 0, 2]: bucket 0 holds positions 1 and 4, "
                       "bucket 1 position 3, bucket 2 positions 0 and 2");
  lab::rng gen(22);
  std::vector<std::uint32_t> buckets(200);
  for (auto& b : buckets)
    b = static_cast<std::uint32_t>(gen.uniform() * gen.uniform() * 8);  // some crowded
  const std::vector<std::uint32_t> order = sort_by_bucket(buckets);
  if (!CHECK_MESSAGE(order.size() == 200,
                     "sort_by_bucket of 200 positions returned " << order.size()))
    return;
  std::vector<bool> seen(200, false);
  for (const std::uint32_t p : order) {
    if (!CHECK_MESSAGE(
            (p < 200 && !seen[p]),
            "position " << p << " is out of range or listed twice: expected a permutation"))
      return;
    seen[p] = true;
  }
  for (std::size_t k = 1; k < 200; ++k) {
    const std::uint32_t a = order[k - 1], b = order[k];
    if (!CHECK_MESSAGE(buckets[a] <= buckets[b],
                       "order[" << k - 1 << "] = position " << a << " (bucket " << buckets[a]
                                << ") comes before position " << b << " (bucket " << buckets[b]
                                << "): expected increasing buckets"))
      return;
    if (!CHECK_MESSAGE(
            (buckets[a] != buckets[b] || a < b),
            "order["
                << k - 1 << "] = position " << a << " comes before position " << b
                << " (both bucket " << buckets[a]
                << "): within a bucket, positions must stay in sequence order (a stable sort)"))
      return;
  }
}

TEST_CASE("lsh_attention: a chunk as long as the sequence is exact shared-QK attention") {
  lab::rng gen(23);
  const lab::matrix qk = lab::testing::random_matrix(gen, 17, 8),
                    v = lab::testing::random_matrix(gen, 17, 8);
  const lab::matrix r = lab::testing::random_matrix(gen, 8, 2);
  for (const bool causal : {false, true}) {
    INFO(std::string(causal ? "causal" : "not causal"));
    // Every position in one chunk: the order does not matter.
    std::vector<std::uint32_t> identity(17);
    std::iota(identity.begin(), identity.end(), 0u);
    const std::vector<double> expected = reference_lsh(qk, v, identity, 17, causal);
    lab::matrix out = nan_matrix(17, 8);
    lsh_attention(qk, v, r, 17, causal, out);
    CHECK_CLOSE_MATRIX("out", out.values(), expected, 8, 1e-4);
  }
}

// Chunks of 4 over 23 positions, 4 and 8 buckets, against LSH by definition.
void check_chunked(bool causal, std::uint64_t seed) {
  lab::rng gen(seed);
  for (const std::size_t half : {2, 4}) {
    const lab::matrix qk = lab::testing::random_matrix(gen, 23, 8),
                      v = lab::testing::random_matrix(gen, 23, 8);
    const lab::matrix r = lab::testing::random_matrix(gen, 8, half);
    const std::size_t n_buckets = 2 * half;
    INFO(n_buckets << " buckets, chunks of 4 over 23 positions, "
                   << std::string(causal ? "causal" : "not causal"));
    lab::matrix out = nan_matrix(23, 8);
    lsh_attention(qk, v, r, 4, causal, out);
    check_lsh(out, qk, v, r, 4, causal);
  }
}

TEST_CASE("lsh_attention: chunks of the sorted order see themselves and the chunk before") {
  check_chunked(false, 24);
}

TEST_CASE("lsh_attention: with a causal mask, by position") { check_chunked(true, 25); }

TEST_CASE("lsh_attention: a position that sees nothing but itself takes its own value") {
  lab::rng gen(26);
  const lab::matrix qk = lab::testing::random_matrix(gen, 9, 4),
                    v = lab::testing::random_matrix(gen, 9, 4);
  const lab::matrix r = lab::testing::random_matrix(gen, 4, 2);
  const std::vector<std::uint32_t> order = reference_order(qk, r);
  // Chunks of one: the first position in sorted order has no chunk before it.
  lab::matrix out = nan_matrix(9, 4);
  lsh_attention(qk, v, r, 1, false, out);
  const std::uint32_t first = order[0], second = order[1];
  CHECK_CLOSE("out[" + std::to_string(first) + "] (first in sorted order, alone in its chunk)",
              out.row(first), v.row(first), 1e-6);
  CHECK_CLOSE("out[" + std::to_string(second) + "] (second in sorted order: sees only the first)",
              out.row(second), v.row(first), 1e-6);
  // Causal: position 0 sees only itself.
  lab::matrix causal = nan_matrix(9, 4);
  lsh_attention(qk, v, r, 3, true, causal);
  CHECK_CLOSE("out[0] with a causal mask (position 0 sees only itself)", causal.row(0), v.row(0),
              1e-6);
}

// The page's chart once the tests pass: one round over seq positions, d 64,
// 8 buckets, chunks of 64.
MEMLAB_BENCHMARK("lsh_attention", "seq", 256, 1024, 4096) {
  lab::rng gen(27);
  const lab::matrix qk = lab::testing::random_matrix(gen, n, 64),
                    v = lab::testing::random_matrix(gen, n, 64);
  const lab::matrix r = lab::testing::random_matrix(gen, 64, 4);
  lab::matrix out(n, 64);
  lab::bench::report(n, lab::bench::measure([&] { lsh_attention(qk, v, r, 64, false, out); }));
}
