#include "paged_kv_cache/paged_kv_cache.hpp"

#include <doctest/doctest.h>

#include <memory>

#include "attention/attention.hpp"
#include "base/error.hpp"
#include "base/random.hpp"
#include "model/generate.hpp"
#include "reference.hpp"

using namespace memlab;

// The libFuzzer target's body (tests/fuzz/paged_fuzz.cpp), replayed below.
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

tensor<3> filled(std::size_t kv_heads, std::size_t n, std::size_t d, float value) {
  return tensor<3>(std::array<std::size_t, 3>{kv_heads, n, d}, value);
}

// Appends n tokens of `value` to every layer.
void append_all(kv_cache& cache, std::size_t n, float value) {
  const auto t = filled(cache.kv_heads(), n, cache.head_dim(), value);
  for (std::size_t l = 0; l < cache.layers(); ++l) cache.append(l, t, t);
}

float value_at(const paged_kv_cache& cache, std::size_t pos) { return cache.layer(0).v(0, pos)[0]; }

}  // namespace

TEST_CASE("attention through the block table equals the contiguous cache: block sizes 1, 7, 16") {
  rng gen(13);
  for (std::size_t block : {1, 7, 16}) {
    for (std::size_t seq : {1, 15, 16, 50}) {  // 50 and 15 are not multiples of 7 or 16
      CAPTURE(block);
      CAPTURE(seq);
      const auto q = random_normal<3>({4, 3, 24}, gen);
      const auto k = random_normal<3>({2, seq + 2, 24}, gen);
      const auto v = random_normal<3>({2, seq + 2, 24}, gen);
      block_pool pool(1, 2, 24, block, (seq + 2 + block - 1) / block);
      paged_kv_cache paged(pool);
      contiguous_kv_cache contiguous(1, 2, 64, 24);
      paged.append(0, k, v);  // one append of seq + 2 tokens: crosses several blocks
      contiguous.append(0, k, v);
      const auto expected = attention::flash(q, contiguous.layer(0), {true, 8, 8});
      const auto out = attention::flash(q, paged.layer(0), {true, 8, 8});
      CHECK(testing::max_abs_diff(out, expected) <= 1e-6);
      CHECK(testing::max_abs_diff(out, testing::reference_attention(q, k, v, true)) <= 1e-5);
      CHECK(paged.block_table().size() == (seq + 2 + block - 1) / block);
    }
  }
}

TEST_CASE("the GPT generates the same tokens with the paged cache as with the contiguous one") {
  gpt::config c;
  c.layers = 2, c.d_model = 32, c.heads = 4, c.kv_heads = 2, c.d_ff = 64, c.max_seq = 80;
  const gpt::model m(c, 17);
  const auto prompt = gpt::encode("Blocks of seven");
  const sampling s{0.8f, 10, 3};
  const generation contiguous = generate(m, prompt, 40, true, s, true);
  block_pool pool(2, 2, 8, 7, 12);  // 84 slots, allocated 7 at a time
  paged_kv_cache paged(pool);
  const generation through_blocks = generate(m, prompt, 40, paged, s, true);
  CHECK(through_blocks.tokens == contiguous.tokens);
  double diff = 0;
  for (std::size_t i = 0; i < 40; ++i)
    for (int t = 0; t < 256; ++t)
      diff =
          std::max(diff, double(std::abs(through_blocks.logits[i](t) - contiguous.logits[i](t))));
  CHECK(diff <= 1e-5);
  // 15 prompt tokens + 39 fed back (the last new token is never fed): 54 tokens, 8 blocks.
  CHECK(paged.length() == 54);
  CHECK(paged.block_table().size() == 8);
  CHECK(pool.used_blocks() == 8);
}

TEST_CASE("blocks are allocated only when a sequence crosses a block boundary, freed at the end") {
  block_pool pool(2, 1, 4, 4, 6);
  CHECK(pool.bytes() ==
        6 * 2 * 1 * 2 * 4 * 4 * 4);  // blocks · layers · kv_heads · (K, V) · block · d · 4
  {
    paged_kv_cache seq(pool);
    append_all(seq, 1, 1.0f);
    CHECK(pool.used_blocks() == 1);
    append_all(seq, 3, 1.0f);  // fills block 0 exactly
    CHECK(pool.used_blocks() == 1);
    append_all(seq, 1, 1.0f);  // position 4: a new block
    CHECK(pool.used_blocks() == 2);
    // Waste: reserved slots minus tokens = 8 - 5, the unused tail of the last block.
    CHECK(seq.reserved_slots() - seq.length() == 3);
    check_invariants(pool, {&seq});
  }
  CHECK(pool.used_blocks() == 0);  // freed when the sequence ended
  CHECK(pool.free_blocks() == 6);
}

TEST_CASE("fork shares every block; a write into a shared block copies it first") {
  block_pool pool(2, 1, 4, 4, 8);
  paged_kv_cache parent(pool);
  append_all(parent, 6, 1.0f);  // blocks 0 (full) and 1 (2 of 4)
  auto child = parent.fork();
  CHECK(child->block_table() == parent.block_table());
  CHECK(pool.used_blocks() == 2);
  for (std::size_t b : parent.block_table()) CHECK(pool.refcount(b) == 2);
  check_invariants(pool, {&parent, child.get()});

  append_all(*child, 1, 2.0f);  // writes into the shared partial block: copy on write
  CHECK(pool.used_blocks() == 3);
  CHECK(child->block_table()[0] == parent.block_table()[0]);  // the full block stays shared
  CHECK(child->block_table()[1] != parent.block_table()[1]);
  CHECK(value_at(*child, 6) == 2.0f);
  CHECK(value_at(*child, 5) == 1.0f);  // the copy kept the earlier tokens
  CHECK(parent.length() == 6);         // the parent never saw the child's token
  append_all(parent, 1, 3.0f);         // its block is private again: no copy
  CHECK(pool.used_blocks() == 3);
  CHECK(value_at(parent, 6) == 3.0f);
  CHECK(value_at(*child, 6) == 2.0f);
  check_invariants(pool, {&parent, child.get()});
  child.reset();
  CHECK(pool.used_blocks() == 2);
  check_invariants(pool, {&parent});
}

TEST_CASE(
    "prefix sharing reuses full blocks of the same prompt prefix and frees them with the last "
    "user") {
  block_pool pool(1, 1, 4, 4, 10);
  const std::vector<int> prompt = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};  // blocks [1..4] [5..8] + 2
  auto first = std::make_unique<paged_kv_cache>(pool);
  CHECK(first->attach_prefix(prompt) == 0);  // nothing published yet
  append_all(*first, prompt.size(), 1.0f);
  first->publish_prefix(prompt);

  paged_kv_cache second(pool);
  CHECK(second.attach_prefix(prompt) == 8);  // two full blocks reused; 2 tokens to compute
  CHECK(second.block_table()[0] == first->block_table()[0]);
  CHECK(second.block_table()[1] == first->block_table()[1]);
  CHECK(pool.refcount(first->block_table()[0]) == 2);
  append_all(second, 2, 5.0f);  // the rest of the prompt, in a block of its own
  CHECK(pool.used_blocks() == 4);

  paged_kv_cache other(pool);  // a different prompt shares nothing
  std::vector<int> different = prompt;
  different[3] = 99;
  CHECK(other.attach_prefix(different) == 0);
  // A prefix longer than one block but ending inside the second: one block.
  paged_kv_cache shorter(pool);
  CHECK(shorter.attach_prefix({1, 2, 3, 4, 5, 6}) == 4);
  check_invariants(pool, {first.get(), &second, &other, &shorter});

  // The index holds the chained hash of each full block's prefix.
  CHECK(pool.find(prefix_hash(prompt, 4)) == std::int64_t(first->block_table()[0]));
  CHECK(pool.find(prefix_hash(prompt, 8)) == std::int64_t(first->block_table()[1]));
  const std::size_t shared = first->block_table()[0];
  first.reset();
  CHECK(pool.refcount(shared) == 2);  // still held by second and shorter
  second.clear();
  shorter.clear();
  CHECK(pool.refcount(shared) == 0);  // the last user ended: freed, and gone from the index
  CHECK(pool.find(prefix_hash(prompt, 4)) == -1);
  check_invariants(pool, {&other});
}

TEST_CASE("an exhausted pool refuses with out_of_blocks and changes nothing") {
  block_pool pool(1, 1, 2, 4, 2);
  paged_kv_cache a(pool), b(pool);
  append_all(a, 5, 1.0f);  // 2 blocks: the pool is empty now
  CHECK(pool.free_blocks() == 0);
  CHECK(a.capacity() == 8);
  CHECK_THROWS_WITH_AS(append_all(b, 1, 2.0f),
                       "out of KV cache blocks: 1 more tokens need 1 blocks of 4, 0 of 2 are free",
                       out_of_blocks);
  CHECK(b.length() == 0);
  CHECK(b.block_table().empty());
  append_all(a, 3, 1.0f);  // the last block's tail still fits
  CHECK_THROWS_AS(append_all(a, 1, 1.0f), out_of_blocks);
  CHECK(a.length() == 8);
  check_invariants(pool, {&a, &b});
  CHECK_THROWS_WITH_AS(block_pool(1, 1, 2, 0, 2),
                       "block_size = 0: expected at least 1 token per block",
                       memlab::invalid_argument);
}

TEST_CASE("can_append answers what append would do: new blocks, copies of shared ones") {
  // Pool of 3 blocks of 4 (2 layers). a holds 3 tokens in one block; b = fork(a)
  // shares it. Appending n tokens to a needs a copy of the shared block (when
  // n > 0) and a new block per 4 positions past 4: 0, 1 (n 1), 2 (n 2..5), 3 (n 6..9).
  for (std::size_t n = 0; n <= 10; ++n) {
    CAPTURE(n);
    block_pool pool(2, 1, 1, 4, 3);
    paged_kv_cache a(pool);
    append_all(a, 3, 1.0f);
    const auto b = a.fork();
    const std::size_t expected = n == 0 ? 0 : 1 + (3 + n - 1) / 4;
    CHECK(a.blocks_needed(n) == expected);
    const bool fits = a.can_append(n);
    CHECK(fits == (expected <= 2));
    bool threw = false;
    try {
      append_all(a, n, 2.0f);
    } catch (const out_of_blocks&) {
      threw = true;
    }
    CHECK(threw == !fits);
  }
  block_pool pool(1, 1, 1, 4, 2);
  paged_kv_cache c(pool);
  append_all(c, 3, 1.0f);  // private: the 4th slot needs nothing, the 5th a new block
  CHECK(c.blocks_needed(1) == 0);
  CHECK(c.blocks_needed(2) == 1);
  CHECK(c.blocks_needed(6) == 2);
  CHECK(!c.can_append(6));
}

TEST_CASE("random operation sequences keep every invariant (allocate, append, fork, write, free)") {
  rng gen(2024);
  for (int round = 0; round < 20; ++round) {
    block_pool pool(2, 1, 2, 1 + gen.next_u64() % 5, 6 + gen.next_u64() % 10);
    std::vector<std::unique_ptr<paged_kv_cache>> live;
    for (int step = 0; step < 200; ++step) {
      const auto op = gen.next_u64() % 4;
      try {
        if (op == 0 || live.empty()) {
          live.push_back(std::make_unique<paged_kv_cache>(pool));
        } else {
          auto& seq = live[gen.next_u64() % live.size()];
          if (op == 1)
            append_all(*seq, 1 + gen.next_u64() % 6, float(step));
          else if (op == 2)
            live.push_back(seq->fork());
          else
            seq = nullptr;  // finish
        }
      } catch (const out_of_blocks&) {
        // refused cleanly: checked below like any other step
      }
      live.erase(std::remove(live.begin(), live.end(), nullptr), live.end());
      std::vector<const paged_kv_cache*> caches;
      for (const auto& c : live) caches.push_back(c.get());
      check_invariants(pool, caches);
    }
  }
}

TEST_CASE("slot figures: allocated, used, reserved and fragmented slots of hand-worked pools") {
  block_pool pool(2, 1, 2, 4, 8);
  paged_kv_cache a(pool);
  append_all(a, 6, 1.0f);  // block 0 full, block 1 holds 2 of 4
  // a will reach 7 tokens: 1 of its 2 empty slots is reserved, 1 is fragmentation.
  slot_figures f = count_slots(pool, {&a}, {7});
  CHECK(f.allocated == 8);
  CHECK(f.used == 6);
  CHECK(f.reservation == 1);
  CHECK(f.fragmentation == 1);
  CHECK(f.idle == 0);
  CHECK(f.blocks == 2);
  CHECK(f.shared_blocks == 0);
  CHECK(f.waste() == 2.0 / 8);

  // A fork shares both blocks: counted once. The shared last block's empty
  // slots are fragmentation (whoever writes there first copies it).
  auto b = a.fork();
  f = count_slots(pool, {&a, b.get()}, {7, 10});
  CHECK(f.allocated == 8);
  CHECK(f.used == 6);
  CHECK(f.reservation == 0);
  CHECK(f.fragmentation == 2);
  CHECK(f.shared_blocks == 2);
  CHECK(f.logical_blocks == 4);

  // b writes a token: its copy of block 1 holds 3 (1 empty, b wants 10: reserved);
  // a's block 1 is private again with 2 empty, a wants 1 more: 1 reserved, 1 not.
  append_all(*b, 1, 2.0f);
  f = count_slots(pool, {&a, b.get()}, {7, 10});
  CHECK(f.allocated == 12);
  CHECK(f.used == 4 + 2 + 3);
  CHECK(f.reservation == 2);
  CHECK(f.fragmentation == 1);
  CHECK(f.blocks == 3);
  CHECK(f.shared_blocks == 1);
  CHECK(f.logical_blocks == 4);
  CHECK(f.waste() == 3.0 / 12);

  // A sequence left out of the list: its private block counts as empty.
  f = count_slots(pool, {&a}, {7});
  CHECK(f.allocated == 12);
  CHECK(f.used == 6);
  CHECK(f.fragmentation == 12 - 6 - 1);

  CHECK_THROWS_WITH_AS(count_slots(pool, {&a}, {5}),
                       "final_lengths[c] = 5: expected at least the cache's length = 6",
                       memlab::invalid_argument);
  CHECK_THROWS_WITH_AS(count_slots(pool, {&a}, {}),
                       "final_lengths.size() = 0: expected one per cache, caches.size() = 1",
                       memlab::invalid_argument);
  b.reset();
  a.clear();
  f = count_slots(pool, {&a}, {0});
  CHECK(f.allocated == 0);
  CHECK(f.waste() == 0);
}

TEST_CASE("the fuzz target on seeded random inputs: every invariant and stored value holds") {
  // The same checks libFuzzer drives with coverage feedback (preset fuzz), here
  // on plain random bytes in every build, sanitizers included.
  rng gen(7);
  for (int input = 0; input < 1000; ++input) {
    std::vector<std::uint8_t> bytes(gen.next_u64() % 400);
    for (auto& b : bytes) b = std::uint8_t(gen.next_u64());
    CAPTURE(input);
    CHECK_NOTHROW(LLVMFuzzerTestOneInput(bytes.data(), bytes.size()));
  }
}
