// paged_fuzz.cpp — libFuzzer target: random operation sequences on the paged KV
// cache, with every invariant and every stored value checked after each one.
//
// The input bytes are decoded into a pool geometry (layers, KV heads, head_dim,
// block size, blocks) and then a list of operations on up to 16 live
// sequences: new, append n tokens, fork, free, clear, attach a prompt prefix
// (a new sequence whose prompt repeats a live one's tokens, maybe changed),
// publish a sequence's prefix. Token ids come from a 3-letter alphabet so that
// prefixes often coincide and blocks are really shared.
//
// After each operation: check_invariants (no block both free and used,
// refcount = table entries naming the block, no table naming a freed block,
// prefix index only on live blocks); every sequence reads back, through its
// block table, exactly the K and V written for its tokens (K/V of position p
// are a function of the token there and p, so a block reused by prefix
// sharing holds the right values, and a missed copy-on-write shows); a refused
// append (out_of_blocks) changed nothing; count_slots adds up. A violation
// throws std::logic_error: a crash for libFuzzer, a failure for the doctest
// replay in tests/core (which runs this on seeded random inputs in every build).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "paged_kv_cache/paged_kv_cache.hpp"

namespace {

using memlab::block_pool;
using memlab::paged_kv_cache;

struct reader {
  const std::uint8_t* data;
  std::size_t size, pos = 0;
  bool done() const { return pos >= size; }
  std::size_t next() { return pos < size ? data[pos++] : 0; }
};

struct sequence {
  std::unique_ptr<paged_kv_cache> cache;
  std::vector<int> tokens;  // one per stored position
};

// K (v = false) or V (v = true) of token `token` at position p, layer l, KV head g, component c.
float value(int token, std::size_t p, std::size_t l, std::size_t g, std::size_t c, bool v) {
  return float(token * 1000003 + int(p) * 131 + int(l) * 31 + int(g) * 7 + int(c) * 3 +
               (v ? 1 : 0));
}

[[noreturn]] void fail(const std::string& what) { throw std::logic_error("paged fuzz: " + what); }

// Appends tokens to every layer, K/V from value(); all-or-nothing by contract.
void append(sequence& s, const std::vector<int>& tokens) {
  paged_kv_cache& c = *s.cache;
  const std::size_t n = tokens.size(), from = c.length();
  if (n == 0) return;
  memlab::tensor<3> k = memlab::tensor<3>::from_shape({c.kv_heads(), n, c.head_dim()});
  memlab::tensor<3> v = k;
  for (std::size_t l = 0; l < c.layers(); ++l) {
    for (std::size_t g = 0; g < c.kv_heads(); ++g)
      for (std::size_t t = 0; t < n; ++t)
        for (std::size_t d = 0; d < c.head_dim(); ++d) {
          k(g, t, d) = value(tokens[t], from + t, l, g, d, false);
          v(g, t, d) = value(tokens[t], from + t, l, g, d, true);
        }
    c.append(l, k, v);  // only layer 0 can run out: the others write where it did
  }
  s.tokens.insert(s.tokens.end(), tokens.begin(), tokens.end());
}

void check_contents(const sequence& s, std::size_t index) {
  const paged_kv_cache& c = *s.cache;
  if (c.length() != s.tokens.size())
    fail("sequence " + std::to_string(index) + " has length " + std::to_string(c.length()) +
         ", expected " + std::to_string(s.tokens.size()));
  for (std::size_t l = 0; l < c.layers(); ++l) {
    const auto& src = c.layer(l);
    for (std::size_t p = 0; p < c.length(); ++p)
      for (std::size_t g = 0; g < c.kv_heads(); ++g)
        for (std::size_t d = 0; d < c.head_dim(); ++d) {
          const float k = src.k_transposed(g, p)[d * src.k_transposed_stride()];
          const float v = src.v(g, p)[d];
          if (k != value(s.tokens[p], p, l, g, d, false) ||
              v != value(s.tokens[p], p, l, g, d, true))
            fail("sequence " + std::to_string(index) + " reads wrong K/V at layer " +
                 std::to_string(l) + ", position " + std::to_string(p));
        }
  }
}

void check_all(const block_pool& pool, const std::vector<sequence>& live) {
  std::vector<const paged_kv_cache*> caches;
  std::vector<std::size_t> lengths;
  for (std::size_t i = 0; i < live.size(); ++i) {
    check_contents(live[i], i);
    caches.push_back(live[i].cache.get());
    lengths.push_back(live[i].cache->length());
  }
  memlab::check_invariants(pool, caches);
  const auto f = memlab::count_slots(pool, caches, lengths);
  if (f.allocated != pool.used_blocks() * pool.block_size() ||
      f.used + f.reservation + f.fragmentation + f.idle != f.allocated || f.reservation != 0)
    fail("count_slots does not add up");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  reader in{data, size};
  const std::size_t layers = 1 + in.next() % 2, kv_heads = 1 + in.next() % 2,
                    head_dim = 1 + in.next() % 3;
  const std::size_t block_size = 1 + in.next() % 8, blocks = 1 + in.next() % 24;
  block_pool pool(layers, kv_heads, head_dim, block_size, blocks);
  std::vector<sequence> live;
  const auto pick = [&]() -> sequence& { return live[in.next() % live.size()]; };
  const auto tokens = [&](std::size_t n) {
    std::vector<int> t(n);
    for (int& x : t) x = int(in.next() % 3);
    return t;
  };

  while (!in.done()) {
    const std::size_t op = in.next() % 7;
    if (live.empty() || op == 0) {
      if (live.size() < 16) live.push_back({std::make_unique<paged_kv_cache>(pool), {}});
    } else if (op == 1) {  // append
      sequence& s = pick();
      const auto before = s.cache->block_table();
      const std::size_t length = s.cache->length(), free = pool.free_blocks();
      try {
        append(s, tokens(1 + in.next() % 10));
      } catch (const memlab::out_of_blocks&) {
        if (s.cache->block_table() != before || s.cache->length() != length ||
            pool.free_blocks() != free)
          fail("a refused append changed the sequence or the pool");
      }
    } else if (op == 2) {  // fork
      if (live.size() < 16) {
        const sequence& s = pick();
        live.push_back({s.cache->fork(), s.tokens});
      }
    } else if (op == 3) {  // free
      live.erase(live.begin() + std::ptrdiff_t(in.next() % live.size()));
    } else if (op == 4) {  // clear
      sequence& s = pick();
      s.cache->clear();
      s.tokens.clear();
    } else if (op == 5) {  // a new sequence attaches the prefix of a prompt like a live one's
      if (live.size() < 16) {
        std::vector<int> prompt = pick().tokens;
        prompt.resize(std::min(prompt.size(), in.next() % 40));
        if (!prompt.empty() && in.next() % 2)
          prompt[in.next() % prompt.size()] = int(in.next() % 3);
        const auto extra = tokens(in.next() % 4);
        prompt.insert(prompt.end(), extra.begin(), extra.end());
        sequence s{std::make_unique<paged_kv_cache>(pool), {}};
        const std::size_t attached = s.cache->attach_prefix(prompt);
        if (attached % block_size != 0 || (attached > 0 && attached >= prompt.size()))
          fail("attach_prefix covered " + std::to_string(attached) + " of " +
               std::to_string(prompt.size()) + " tokens");
        s.tokens.assign(prompt.begin(), prompt.begin() + std::ptrdiff_t(attached));
        live.push_back(std::move(s));
        try {
          append(live.back(),
                 std::vector<int>(prompt.begin() + std::ptrdiff_t(attached), prompt.end()));
        } catch (const memlab::out_of_blocks&) {
          // refused: it keeps the attached blocks only
        }
      }
    } else {  // publish
      const sequence& s = pick();
      s.cache->publish_prefix(s.tokens);
    }
    check_all(pool, live);
  }
  return 0;
}
