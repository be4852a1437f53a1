// Exercise 6 — a paged KV cache: the tests (the same natively and in the browser).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "exercise.cpp"
#include "memlab_test.hpp"

namespace {

const std::size_t width = 3;

// K and V of (sequence tag, position): distinct values, so a misplaced read shows.
std::vector<float> row(int tag, std::size_t pos, bool value) {
  std::vector<float> r;
  for (std::size_t x = 0; x < width; ++x)
    r.push_back((value ? -1.0f : 1.0f) * static_cast<float>(1000 * tag + 10 * pos + x + 1));
  return r;
}

bool put(paged_kv_cache& c, int seq, int tag, std::size_t pos) {
  return c.append(seq, row(tag, pos, false), row(tag, pos, true));
}

std::string table(const std::vector<int>& t) {
  std::string s = "{";
  for (std::size_t i = 0; i < t.size(); ++i) s += (i ? ", " : "") + std::to_string(t[i]);
  return s + "}";
}

// Checks that positions [0, tags.size()) of seq read back K and V of (tags[pos],
// pos); stops at the first wrong one.
bool reads_back(const paged_kv_cache& c, int seq, const std::vector<int>& tags,
                const std::string& who) {
  const std::size_t n = tags.size();
  if (!CHECK_MESSAGE(c.length(seq) == n, who << ": length " << c.length(seq) << ", expected " << n))
    return false;
  for (std::size_t pos = 0; pos < n; ++pos) {
    INFO(who << ", position " << pos << ", block table " << table(c.block_table(seq)));
    if (!CHECK_CLOSE("key", c.key(seq, pos), row(tags[pos], pos, false), 0.0)) return false;
    if (!CHECK_CLOSE("value", c.value(seq, pos), row(tags[pos], pos, true), 0.0)) return false;
  }
  return true;
}

// Positions [0, n) of seq all written with the same tag.
bool reads_back(const paged_kv_cache& c, int seq, int tag, std::size_t n, const std::string& who) {
  return reads_back(c, seq, std::vector<int>(n, tag), who);
}

// The whole pool against the block tables of the live sequences: every block's
// reference count is the number of tables holding it, and the free list holds
// exactly the blocks that no table holds.
bool pool_consistent(const paged_kv_cache& c, int num_blocks, const std::vector<int>& live,
                     const std::string& when) {
  std::string tables;
  for (int seq : live)
    tables += (tables.empty() ? "" : ", ") + ("sequence " + std::to_string(seq) + " ") +
              table(c.block_table(seq));
  int held = 0;
  for (int block = 0; block < num_blocks; ++block) {
    int holders = 0;
    for (int seq : live)
      for (int b : c.block_table(seq)) holders += b == block;
    if (!CHECK_MESSAGE(c.ref_count(block) == holders,
                       when << ": block " << block << " has reference count " << c.ref_count(block)
                            << ", but " << holders << " block tables hold it (" << tables << ")"))
      return false;
    held += holders > 0;
  }
  return CHECK_MESSAGE(c.free_blocks() == static_cast<std::size_t>(num_blocks - held),
                       when << ": " << c.free_blocks() << " free blocks, expected "
                            << num_blocks - held << " of " << num_blocks << " (held: " << tables
                            << ")");
}

}  // namespace

TEST_CASE("blocks are allocated on demand: one per block_size positions") {
  paged_kv_cache c(8, 4, width);  // 8 blocks of 4 positions
  const int s = c.add_sequence();
  CHECK_MESSAGE(c.free_blocks() == 8,
                "a new pool has " << c.free_blocks() << " free blocks, expected 8");
  CHECK_MESSAGE(c.block_table(s).empty(),
                "a new sequence holds blocks " << table(c.block_table(s)));
  const std::size_t expected_blocks[] = {1, 1, 1, 1, 2, 2, 2, 2, 3};  // after 1, 2, ... 9 appends
  for (std::size_t pos = 0; pos < 9; ++pos) {
    CHECK_MESSAGE(put(c, s, 1, pos),
                  "append " << pos + 1 << " returned false with free blocks left");
    const std::size_t blocks = c.block_table(s).size();
    CHECK_MESSAGE(blocks == expected_blocks[pos],
                  "after " << pos + 1 << " appends the block table " << table(c.block_table(s))
                           << " has " << blocks << " blocks, expected " << expected_blocks[pos]);
    CHECK_MESSAGE(c.free_blocks() == 8 - expected_blocks[pos],
                  "after " << pos + 1 << " appends, " << c.free_blocks()
                           << " free blocks, expected " << 8 - expected_blocks[pos]);
  }
  reads_back(c, s, 1, 9, "the sequence");
}

TEST_CASE("two sequences interleave in the pool and read back through their block tables") {
  paged_kv_cache c(6, 2, width);
  const int a = c.add_sequence();
  const int b = c.add_sequence();
  CHECK_MESSAGE((a == 0 && b == 1), "sequence ids " << a << ", " << b << ", expected 0, 1");
  for (std::size_t pos = 0; pos < 5; ++pos) {
    CHECK(put(c, a, 1, pos));
    CHECK(put(c, b, 2, pos));
  }
  // a and b take blocks in turn: their tables are disjoint, 3 blocks each
  const std::vector<int>& ta = c.block_table(a);
  const std::vector<int>& tb = c.block_table(b);
  CHECK_MESSAGE((ta.size() == 3 && tb.size() == 3),
                "block tables " << table(ta) << " and " << table(tb)
                                << ", expected 3 blocks each for 5 positions in blocks of 2");
  for (int x : ta)
    for (int y : tb) CHECK_MESSAGE(x != y, "block " << x << " is in both block tables");
  CHECK_MESSAGE(c.free_blocks() == 0, c.free_blocks() << " free blocks, expected 0");
  reads_back(c, a, 1, 5, "sequence a");
  reads_back(c, b, 2, 5, "sequence b");
}

TEST_CASE("freeing a sequence returns its blocks to the pool, and they are reused") {
  paged_kv_cache c(4, 2, width);
  const int a = c.add_sequence();
  for (std::size_t pos = 0; pos < 7; ++pos) CHECK(put(c, a, 1, pos));  // 4 blocks: the whole pool
  CHECK_MESSAGE(c.free_blocks() == 0, c.free_blocks()
                                          << " free blocks with the pool full, expected 0");
  c.free_sequence(a);
  CHECK_MESSAGE(c.free_blocks() == 4,
                "after free_sequence " << c.free_blocks() << " free blocks, expected 4");
  const int b = c.add_sequence();
  for (std::size_t pos = 0; pos < 8; ++pos)
    CHECK_MESSAGE(put(c, b, 2, pos), "append " << pos + 1 << " into the freed pool returned false");
  reads_back(c, b, 2, 8, "the new sequence");
}

TEST_CASE("out of blocks: append returns false and changes nothing") {
  paged_kv_cache c(2, 2, width);
  const int a = c.add_sequence();
  const int b = c.add_sequence();
  for (std::size_t pos = 0; pos < 4; ++pos) CHECK(put(c, a, 1, pos));
  CHECK_MESSAGE(!put(c, a, 1, 4), "a 5th append into 2 full blocks of 2 returned true");
  CHECK_MESSAGE(!put(c, b, 2, 0), "an append to another sequence with no free block returned true");
  CHECK_MESSAGE(c.block_table(a).size() == 2,
                "block table " << table(c.block_table(a)) << " after a refused append");
  CHECK_MESSAGE(c.block_table(b).empty(),
                "block table " << table(c.block_table(b)) << " after a refused append");
  reads_back(c, a, 1, 4, "sequence a");
  CHECK_MESSAGE(c.length(b) == 0, "sequence b has length " << c.length(b) << ", expected 0");
}

TEST_CASE("fork shares every block by reference: nothing is copied") {
  paged_kv_cache c(8, 4, width);
  const int parent = c.add_sequence();
  for (std::size_t pos = 0; pos < 6; ++pos)
    CHECK(put(c, parent, 1, pos));  // 2 blocks, the 2nd half full
  const std::size_t free_before = c.free_blocks();
  const int child = c.fork(parent);
  CHECK_MESSAGE(child != parent, "fork returned the parent's id " << child);
  CHECK_MESSAGE(c.block_table(child) == c.block_table(parent), "the fork's block table "
                                                                   << table(c.block_table(child))
                                                                   << ", expected the parent's "
                                                                   << table(c.block_table(parent)));
  CHECK_MESSAGE(c.free_blocks() == free_before,
                "fork took " << free_before - c.free_blocks() << " blocks, expected 0");
  for (int blk : c.block_table(parent))
    CHECK_MESSAGE(c.ref_count(blk) == 2,
                  "block " << blk << " has reference count " << c.ref_count(blk) << ", expected 2");
  reads_back(c, child, 1, 6, "the fork");
  pool_consistent(c, 8, {parent, child}, "after the fork");

  // an empty sequence forks into an empty one: nothing shared, nothing taken
  const int empty = c.add_sequence();
  const int empty_fork = c.fork(empty);
  CHECK_MESSAGE(c.block_table(empty_fork).empty(),
                "the fork of an empty sequence holds blocks " << table(c.block_table(empty_fork)));
  CHECK(put(c, empty, 3, 0));
  CHECK(put(c, empty_fork, 4, 0));
  pool_consistent(c, 8, {parent, child, empty, empty_fork},
                  "after one append to an empty sequence and one to its fork");
  reads_back(c, empty, 3, 1, "the empty sequence, after one append");
  reads_back(c, empty_fork, 4, 1, "the empty sequence's fork, after one append");
}

TEST_CASE("copy on write: appending to a fork copies only the shared, partly filled last block") {
  paged_kv_cache c(8, 4, width);
  const int parent = c.add_sequence();
  for (std::size_t pos = 0; pos < 6; ++pos)
    CHECK(put(c, parent, 1, pos));  // blocks: [full, 2 of 4]
  const int child = c.fork(parent);
  const std::vector<int> shared = c.block_table(parent);
  const std::size_t free_before = c.free_blocks();

  // the child writes position 6 with its own values
  CHECK(c.append(child, row(2, 6, false), row(2, 6, true)));
  const std::vector<int>& tc = c.block_table(child);
  const std::vector<int>& tp = c.block_table(parent);
  if (!CHECK_MESSAGE((tc.size() == 2 && tp.size() == 2 && shared.size() == 2),
                     "block tables: parent " << table(tp) << ", fork " << table(tc)
                                             << ", expected 2 blocks each"))
    return;
  CHECK_MESSAGE(tc[0] == shared[0], "the full first block was copied (fork's table "
                                        << table(tc) << ", parent's " << table(tp)
                                        << "): full blocks stay shared");
  CHECK_MESSAGE(tc[1] != shared[1],
                "the fork appended into the shared block " << shared[1] << " in place");
  CHECK_MESSAGE(tp == shared,
                "the parent's block table changed to " << table(tp) << " from " << table(shared));
  CHECK_MESSAGE(c.free_blocks() == free_before - 1,
                "copy-on-write took " << free_before - c.free_blocks() << " blocks, expected 1");
  CHECK_MESSAGE(c.ref_count(shared[0]) == 2,
                "reference count of the shared block " << c.ref_count(shared[0]) << ", expected 2");
  CHECK_MESSAGE(c.ref_count(shared[1]) == 1, "reference count of the parent's last block "
                                                 << c.ref_count(shared[1]) << ", expected 1");
  CHECK_MESSAGE(c.ref_count(tc[1]) == 1,
                "reference count of the fork's copy " << c.ref_count(tc[1]) << ", expected 1");
  pool_consistent(c, 8, {parent, child}, "after copy-on-write");
  // the whole of both: the parent untouched, the fork's copy holds 0..5 and its own 6
  const std::vector<int> fork_tags = {1, 1, 1, 1, 1, 1, 2};
  reads_back(c, parent, 1, 6, "the parent, after the fork's append");
  reads_back(c, child, fork_tags, "the fork, after its append");

  // the parent's last block is its own again: its append goes in place
  const std::size_t free_now = c.free_blocks();
  CHECK(put(c, parent, 1, 6));
  CHECK_MESSAGE(
      c.block_table(parent) == shared,
      "the parent's append copied its unshared block: table " << table(c.block_table(parent)));
  CHECK_MESSAGE(c.free_blocks() == free_now, "the parent's append took a block");
  reads_back(c, parent, 1, 7, "the parent, after its own append");
  reads_back(c, child, fork_tags, "the fork, after the parent's append");
  pool_consistent(c, 8, {parent, child}, "after the parent's append");
  c.free_sequence(parent);
  c.free_sequence(child);
  pool_consistent(c, 8, {}, "after freeing both");
}

TEST_CASE("out of blocks during copy-on-write: the fork's append returns false, nothing changes") {
  paged_kv_cache c(2, 4, width);  // 2 blocks of 4: the parent's 6 positions fill the pool
  const int parent = c.add_sequence();
  for (std::size_t pos = 0; pos < 6; ++pos) CHECK(put(c, parent, 1, pos));
  const int child = c.fork(parent);
  const std::vector<int> shared = c.block_table(parent);
  // the fork's append needs a copy of the shared, half-full last block: none is free
  CHECK_MESSAGE(!put(c, child, 2, 6),
                "the fork's append returned true with no free block: "
                "writing into the shared last block needs a copy first");
  CHECK_MESSAGE(c.block_table(child) == shared, "the fork's block table changed to "
                                                    << table(c.block_table(child)) << " from "
                                                    << table(shared));
  pool_consistent(c, 2, {parent, child}, "after the refused append");
  reads_back(c, child, 1, 6, "the fork, after its refused append");
  // the parent's append needs a copy just as much (its last block is shared): refused too
  CHECK_MESSAGE(!put(c, parent, 1, 6),
                "the parent's append returned true with no free block "
                "and its last block shared");
  reads_back(c, child, 1, 6, "the fork, after the parent's refused append");
  reads_back(c, parent, 1, 6, "the parent, after its refused append");
  // once the parent is gone, the fork owns the block again and appends in place
  c.free_sequence(parent);
  pool_consistent(c, 2, {child}, "after freeing the parent");
  CHECK_MESSAGE(put(c, child, 2, 6),
                "the fork's append returned false once it held its "
                "blocks alone");
  reads_back(c, child, {1, 1, 1, 1, 1, 1, 2}, "the fork, after its append");
}

TEST_CASE("a fork at a block boundary copies nothing: its next append takes a fresh block") {
  paged_kv_cache c(8, 4, width);
  const int parent = c.add_sequence();
  for (std::size_t pos = 0; pos < 8; ++pos) CHECK(put(c, parent, 1, pos));  // 2 full blocks
  const int child = c.fork(parent);
  const std::size_t free_before = c.free_blocks();
  CHECK(put(c, child, 1, 8));
  const std::vector<int>& tc = c.block_table(child);
  const std::vector<int>& tp = c.block_table(parent);
  if (!CHECK_MESSAGE((tc.size() == 3 && tp.size() == 2), "block tables: parent "
                                                             << table(tp) << ", fork " << table(tc)
                                                             << ", expected 2 and 3 blocks"))
    return;
  CHECK_MESSAGE((tc[0] == tp[0] && tc[1] == tp[1]),
                "full blocks were copied: fork " << table(tc) << ", parent " << table(tp));
  CHECK_MESSAGE(c.free_blocks() == free_before - 1,
                "the append took " << free_before - c.free_blocks() << " blocks, expected 1");
  CHECK_MESSAGE(c.ref_count(tp[1]) == 2,
                "reference count of shared block " << tp[1] << ": " << c.ref_count(tp[1]));
  pool_consistent(c, 8, {parent, child}, "after the fork's append");
  reads_back(c, child, 1, 9, "the fork");
  reads_back(c, parent, 1, 8, "the parent");
}

TEST_CASE("freeing the parent keeps the fork's data; freeing both empties the pool") {
  paged_kv_cache c(6, 2, width);
  const int parent = c.add_sequence();
  for (std::size_t pos = 0; pos < 5; ++pos) CHECK(put(c, parent, 1, pos));  // 3 blocks
  const int child = c.fork(parent);
  c.free_sequence(parent);
  CHECK_MESSAGE(c.free_blocks() == 3, "after freeing the parent "
                                          << c.free_blocks()
                                          << " free blocks, expected 3: the fork still holds 3");
  for (int blk : c.block_table(child))
    CHECK_MESSAGE(c.ref_count(blk) == 1,
                  "block " << blk << " has reference count " << c.ref_count(blk) << ", expected 1");
  pool_consistent(c, 6, {child}, "after freeing the parent");
  reads_back(c, child, 1, 5, "the fork");
  c.free_sequence(child);
  CHECK_MESSAGE(c.free_blocks() == 6,
                "after freeing both " << c.free_blocks() << " free blocks, expected 6");
  pool_consistent(c, 6, {}, "after freeing both");
}
