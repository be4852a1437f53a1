// base/parallel.hpp's pool: every index once, workers numbered below
// min(threads, count), errors carried back to the caller, bad counts named.
#include "base/parallel.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <vector>

#include "base/error.hpp"

using namespace memlab;

TEST_CASE("for_each runs every index once, on workers below min(threads, count)") {
  for (int threads : {1, 2, 3}) {
    parallel::scoped_threads scope(threads);
    CHECK(parallel::threads() == threads);
    for (std::size_t count : {0, 1, 2, 5, 1000}) {
      CAPTURE(threads);
      CAPTURE(count);
      std::vector<std::atomic<int>> runs(count);
      std::atomic<int> bad_worker{0};
      parallel::for_each(count, [&](std::size_t i, int worker) {
        ++runs[i];
        if (worker < 0 || worker >= threads || static_cast<std::size_t>(worker) >= count)
          ++bad_worker;
      });
      for (std::size_t i = 0; i < count; ++i) CHECK(runs[i] == 1);
      CHECK(bad_worker == 0);
    }
  }
  CHECK(parallel::threads() == 1);  // scoped_threads restored it
}

TEST_CASE("an exception in a body reaches the caller, and the pool keeps working") {
  parallel::scoped_threads scope(2);
  CHECK_THROWS_WITH_AS(parallel::for_each(100,
                                          [](std::size_t i, int) {
                                            if (i == 37) throw std::runtime_error("task 37");
                                          }),
                       "task 37", std::runtime_error);
  std::atomic<int> sum{0};
  parallel::for_each(10, [&](std::size_t i, int) { sum += static_cast<int>(i); });
  CHECK(sum == 45);
}

TEST_CASE("a bad thread count is named") {
  CHECK_THROWS_WITH_AS(parallel::set_threads(0), "threads = 0: expected in [1, 64]",
                       memlab::invalid_argument);
  CHECK_THROWS_WITH_AS(parallel::set_threads(65), "threads = 65: expected in [1, 64]",
                       memlab::invalid_argument);
  CHECK(parallel::threads() == 1);
  CHECK(parallel::max_threads() >= 1);
}
