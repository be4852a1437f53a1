// Exercise 5 — a KV cache: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

namespace {

// A distinct value for (position, head, index), so a misplaced read shows.
float tag(std::size_t pos, std::size_t head, std::size_t x, bool value) {
  return (value ? -1.0f : 1.0f) * static_cast<float>(1000 * pos + 100 * head + x + 1);
}

std::vector<float> token(std::size_t pos, std::size_t kv_heads, std::size_t d, bool value) {
  std::vector<float> t;
  for (std::size_t h = 0; h < kv_heads; ++h)
    for (std::size_t x = 0; x < d; ++x) t.push_back(tag(pos, h, x, value));
  return t;
}

std::vector<float> expected_row(std::size_t pos, std::size_t head, std::size_t d, bool value) {
  std::vector<float> r;
  for (std::size_t x = 0; x < d; ++x) r.push_back(tag(pos, head, x, value));
  return r;
}

}  // namespace

TEST_CASE("the constructor allocates the whole cache once: 2 · max_seq · kv_heads · head_dim") {
  const struct {
    std::size_t max_seq, kv_heads, d;
  } cases[] = {{16, 2, 8}, {100, 1, 64}, {1, 4, 3}};
  for (const auto& c : cases) {
    // measured first, checked after: the checks themselves may allocate
    const std::vector<float> k = token(0, c.kv_heads, c.d, false),
                             v = token(0, c.kv_heads, c.d, true);
    std::size_t held = 0, left = 0, capacity = 0, size = 0;
    float read_k = 0, read_v = 0;
    const std::size_t before = lab::heap().live_bytes;
    {
      kv_cache cache(c.max_seq, c.kv_heads, c.d);
      held = lab::heap().live_bytes - before;
      capacity = cache.capacity();
      size = cache.size();
      // used, not just built: clang may drop an allocation nothing reads (the page's
      // compiler would then count no bytes at all)
      if (cache.append(k, v)) {
        read_k = cache.key(c.kv_heads - 1, 0)[c.d - 1];
        read_v = cache.value(c.kv_heads - 1, 0)[c.d - 1];
      }
    }
    left = lab::heap().live_bytes - before;
    INFO("max_seq " << c.max_seq << ", kv_heads " << c.kv_heads << ", head_dim " << c.d);
    const std::size_t expected = 2 * c.max_seq * c.kv_heads * c.d * sizeof(float);
    CHECK_MESSAGE(held == expected, "the cache holds " << lab::testing::bytes(held)
                                                       << " of heap, expected exactly "
                                                       << lab::testing::bytes(expected));
    CHECK_MESSAGE(capacity == c.max_seq, "capacity() = " << capacity << ", expected " << c.max_seq);
    CHECK_MESSAGE(size == 0, "a new cache has size() = " << size << ", expected 0");
    CHECK_MESSAGE(left == 0, "the destructor leaves " << lab::testing::bytes(left) << " allocated");
    CHECK_MESSAGE((read_k == k.back() && read_v == v.back()),
                  "after one append, key(" << c.kv_heads - 1 << ", 0) ends with " << read_k
                                           << " and value(" << c.kv_heads - 1 << ", 0) with "
                                           << read_v << ", expected " << k.back() << " and "
                                           << v.back());
  }
}

TEST_CASE("append and retrieval: what goes in comes out, with no allocation") {
  const std::size_t max_seq = 12, kv_heads = 3, d = 5;
  kv_cache cache(max_seq, kv_heads, d);
  std::vector<std::vector<float>> ks, vs;
  for (std::size_t pos = 0; pos < max_seq; ++pos) {
    ks.push_back(token(pos, kv_heads, d, false));
    vs.push_back(token(pos, kv_heads, d, true));
  }
  bool appended[max_seq] = {};
  std::size_t allocations = 0;
  {
    lab::heap_scope scope;  // measured first, checked after: the checks themselves may allocate
    for (std::size_t pos = 0; pos < max_seq; ++pos) appended[pos] = cache.append(ks[pos], vs[pos]);
    allocations = scope.allocations();
  }
  for (std::size_t pos = 0; pos < max_seq; ++pos)
    CHECK_MESSAGE(appended[pos],
                  "append of position " << pos << " returned false; capacity " << max_seq);
  CHECK_MESSAGE(allocations == 0,
                max_seq << " appends called operator new " << allocations
                        << " times, expected 0: the cache is allocated once, in the constructor");
  CHECK_MESSAGE(cache.size() == max_seq,
                "size() = " << cache.size() << " after " << max_seq << " appends");
  for (std::size_t pos = 0; pos < max_seq; ++pos)
    for (std::size_t h = 0; h < kv_heads; ++h) {
      INFO("position " << pos << ", head " << h);
      if (!CHECK_CLOSE("key", cache.key(h, pos), expected_row(pos, h, d, false), 0.0)) return;
      if (!CHECK_CLOSE("value", cache.value(h, pos), expected_row(pos, h, d, true), 0.0)) return;
    }
}

TEST_CASE("a full cache refuses to append and keeps what it holds") {
  const std::size_t kv_heads = 2, d = 4;
  kv_cache cache(3, kv_heads, d);
  for (std::size_t pos = 0; pos < 3; ++pos)
    CHECK_MESSAGE(cache.append(token(pos, kv_heads, d, false), token(pos, kv_heads, d, true)),
                  "append of position " << pos << " (of 3) returned false");
  CHECK_MESSAGE(!cache.append(token(9, kv_heads, d, false), token(9, kv_heads, d, true)),
                "a 4th append into a cache of 3 positions returned true");
  CHECK_MESSAGE(cache.size() == 3,
                "size() = " << cache.size() << " after a refused append, expected 3");
  // all of it, every position of every head: a refused append changes nothing
  for (std::size_t pos = 0; pos < 3 && pos < cache.size(); ++pos)
    for (std::size_t h = 0; h < kv_heads; ++h) {
      INFO("after the refused append: position " << pos << ", head " << h);
      if (!CHECK_CLOSE("key", cache.key(h, pos), expected_row(pos, h, d, false), 0.0)) return;
      if (!CHECK_CLOSE("value", cache.value(h, pos), expected_row(pos, h, d, true), 0.0)) return;
    }
}

TEST_CASE("the layout is the README's: K and V as [kv_heads][max_seq][head_dim]") {
  // key(h, pos) of a cache of max_seq positions starts (h · max_seq + pos) · head_dim
  // floats after key(0, 0): each head's keys contiguous, in the order attention
  // reads them. The same for value().
  const std::size_t max_seq = 6, kv_heads = 3, d = 4;
  kv_cache cache(max_seq, kv_heads, d);
  for (std::size_t pos = 0; pos < max_seq; ++pos)
    cache.append(token(pos, kv_heads, d, false), token(pos, kv_heads, d, true));
  if (!CHECK_MESSAGE(cache.size() == max_seq, "size() = " << cache.size() << " after " << max_seq
                                                          << " appends into " << max_seq))
    return;
  for (const bool value : {false, true}) {
    const std::string which = value ? "value" : "key";
    const float* origin = (value ? cache.value(0, 0) : cache.key(0, 0)).data();
    for (std::size_t h = 0; h < kv_heads; ++h)
      for (std::size_t pos = 0; pos < max_seq; ++pos) {
        const float* at = (value ? cache.value(h, pos) : cache.key(h, pos)).data();
        const std::ptrdiff_t offset = at - origin;
        const std::ptrdiff_t expected = static_cast<std::ptrdiff_t>((h * max_seq + pos) * d);
        if (!CHECK_MESSAGE(offset == expected,
                           std::string(which)
                               << "(" << h << ", " << pos << ") starts " << offset
                               << " floats after " << which << "(0, 0), expected " << expected
                               << " = (" << h << " · " << max_seq << " + " << pos << ") · " << d
                               << ": the layout [kv_heads][max_seq][head_dim]"))
          return;
      }
  }
}

TEST_CASE("attend stays finite on logits of 1e4 and reads its own K/V head") {
  // head_dim 4 (scale 1/2), q = (200, 0, 0, 0); K/V head g holds keys (50 b_gj, 0,
  // 0, 0): logits 5000 b_gj, 1e4 apart. Head 0's largest logits tie at positions
  // 1 and 3 (the mean of their values); head 1's is position 2 alone.
  const float b[2][4] = {{-1, 2, 0, 2}, {1, -2, 3, 0}};
  const std::size_t kv_heads = 2, d = 4;
  kv_cache cache(4, kv_heads, d);
  for (std::size_t pos = 0; pos < 4; ++pos) {
    std::vector<float> k(kv_heads * d, 0.0f), v(kv_heads * d);
    for (std::size_t g = 0; g < kv_heads; ++g) {
      k[g * d] = 50 * b[g][pos];
      for (std::size_t x = 0; x < d; ++x) v[g * d + x] = static_cast<float>(100 * g + 10 * pos + x);
    }
    cache.append(k, v);
  }
  const std::vector<float> q = {200, 0, 0, 0};
  const std::vector<float> expected[2] = {{20, 21, 22, 23}, {120, 121, 122, 123}};
  for (std::size_t g = 0; g < kv_heads; ++g) {
    std::vector<float> out(d, std::numeric_limits<float>::quiet_NaN());
    attend(cache, g, q, out);
    INFO("K/V head " << g << ", logits 5000 · {" << b[g][0] << ", " << b[g][1] << ", " << b[g][2]
                     << ", " << b[g][3] << "}");
    CHECK_FINITE("out", out, 0, "exp overflowed: row max not subtracted?");
    CHECK_CLOSE("out", out, expected[g], 1e-4);
  }
}

TEST_CASE("generation with the cache equals recomputing attention over the whole prefix") {
  // Decoding: at step t the model has q_t, k_t, v_t for the new token; with a
  // cache it appends k_t, v_t and attends over positions 0..t. Without one it
  // recomputes causal attention over all t + 1 tokens. Same numbers.
  // heads 4 sharing kv_heads 2 (GQA): query head h reads K/V head h / 2.
  const std::size_t steps = 24, heads = 4, kv_heads = 2, d = 16;
  lab::rng gen(8);
  lab::matrix q(steps, heads * d), k(steps, kv_heads * d), v(steps, kv_heads * d);
  gen.fill_normal(q.values());
  gen.fill_normal(k.values());
  gen.fill_normal(v.values());

  kv_cache cache(steps, kv_heads, d);
  for (std::size_t t = 0; t < steps; ++t) {
    if (!CHECK_MESSAGE(cache.append(k.row(t), v.row(t)),
                       "append at step " << t << " returned false"))
      return;
    for (std::size_t h = 0; h < heads; ++h) {
      const std::size_t g = h / (heads / kv_heads);
      std::vector<float> out(d, std::numeric_limits<float>::quiet_NaN());
      attend(cache, g, lab::span<const float>(q.row(t).data() + h * d, d), out);
      // recomputation: causal attention of the t + 1 tokens so far, head h, last row
      lab::matrix qh(t + 1, d), kh(t + 1, d), vh(t + 1, d);
      for (std::size_t s = 0; s <= t; ++s)
        for (std::size_t x = 0; x < d; ++x) {
          qh(s, x) = q(s, h * d + x);
          kh(s, x) = k(s, g * d + x);
          vh(s, x) = v(s, g * d + x);
        }
      const std::vector<double> full = lab::testing::reference_attention(qh, kh, vh, true);
      INFO("step " << t << ", head " << h << " (K/V head " << g << "), " << t + 1
                   << " positions cached of " << steps);
      if (!CHECK_CLOSE("out", out, std::vector<double>(full.end() - d, full.end()), 1e-5)) return;
    }
  }
}

// The page's chart once the tests pass: generating n tokens with your cache (one
// K/V head of 64, 4 query heads): time, and the heap the cache holds.
MEMLAB_BENCHMARK("generation with kv_cache", "tokens", 128, 256, 512, 1024) {
  lab::rng gen(9);
  lab::matrix q(n, 64), k(n, 64), v(n, 64);
  gen.fill_normal(q.values());
  gen.fill_normal(k.values());
  gen.fill_normal(v.values());
  std::vector<float> out(64);
  lab::bench::report(n, lab::bench::measure([&] {
                       kv_cache cache(n, 1, 64);
                       for (std::size_t t = 0; t < n; ++t) {
                         cache.append(k.row(t), v.row(t));
                         for (int h = 0; h < 4; ++h) attend(cache, 0, q.row(t), out);
                       }
                     }));
}
