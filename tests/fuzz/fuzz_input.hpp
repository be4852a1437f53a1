// fuzz_input.hpp — what the libFuzzer targets of tests/fuzz share: reading
// choices and numbers from the input bytes, and the one kind of failure a
// target reports.
//
// A target's body is a function `int fuzz_<name>(const uint8_t*, size_t)`: the
// fuzz preset binds it to LLVMFuzzerTestOneInput (MEMLAB_LIBFUZZER), and
// tests/core/fuzz_replay_test.cpp replays it on seeded random bytes in every
// build, sanitizers included. Bad input refused by core (memlab::invalid_argument)
// is the expected answer to most inputs; a broken invariant throws
// std::logic_error, and any other exception (std::bad_alloc, std::length_error:
// a size that was not checked) escapes too: a crash for libFuzzer, a failure
// for the replay.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace memlab::fuzz {

[[noreturn]] inline void fail(const std::string& what) { throw std::logic_error(what); }

struct input {
  const std::uint8_t* data;
  std::size_t size, pos = 0;
  bool done() const { return pos >= size; }
  std::uint8_t byte() { return pos < size ? data[pos++] : 0; }
  // An integer in [0, n), n > 0.
  std::size_t below(std::size_t n) { return (std::size_t(byte()) << 8 | byte()) % n; }
  std::uint32_t u32() {
    std::uint32_t x = 0;
    for (int i = 0; i < 4; ++i) x = x << 8 | byte();
    return x;
  }
  // Mostly a small value in [lo, hi]; now and then a raw 32-bit one (huge,
  // negative as an int): what a hostile caller would pass.
  int size_in(int lo, int hi) {
    if (byte() < 16) return static_cast<int>(u32());
    return lo + static_cast<int>(below(std::size_t(hi - lo + 1)));
  }
  // A float: mostly a small value of 1/16 steps, sometimes one of the special
  // ones, sometimes raw bits (any float, NaN and infinities included).
  float value() {
    const std::uint8_t kind = byte();
    if (kind < 200) return (static_cast<float>(byte()) - 128.0f) / 16.0f;
    if (kind < 230) {
      constexpr float special[] = {0.0f,
                                   -0.0f,
                                   1e-40f,
                                   65504.0f,
                                   65520.0f,
                                   1e6f,
                                   -1e7f,
                                   3e38f,
                                   std::numeric_limits<float>::infinity(),
                                   std::numeric_limits<float>::quiet_NaN()};
      return special[byte() % (sizeof special / sizeof special[0])];
    }
    const std::uint32_t bits = u32();
    float f;
    std::memcpy(&f, &bits, sizeof f);
    return f;
  }
};

}  // namespace memlab::fuzz
