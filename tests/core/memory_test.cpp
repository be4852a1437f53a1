#include "base/memory.hpp"

#include <doctest/doctest.h>

using namespace memlab;

TEST_CASE("the tracker counts live and peak bytes of core's tensors exactly") {
  auto& t = memory::tracker();
  t.reset();
  const std::size_t base = t.live_bytes();
  CHECK(t.peak_bytes() == base);
  {
    auto a = tensor<2>::from_shape({10, 20});  // 800 bytes
    CHECK(t.live_bytes() == base + 800);
    {
      buffer<float> b(50);  // 200 bytes
      CHECK(t.live_bytes() == base + 1000);
    }
    CHECK(t.live_bytes() == base + 800);
    CHECK(t.peak_bytes() == base + 1000);
    CHECK(t.current().allocations == 2);
    CHECK(t.current().deallocations == 1);
  }
  CHECK(t.live_bytes() == base);
  CHECK(t.peak_bytes() == base + 1000);

  t.reset();  // a new measurement: peak back to live, counts to zero
  CHECK(t.peak_bytes() == base);
  CHECK(t.current().allocations == 0);
}

TEST_CASE("peak scopes measure above their start and nest") {
  auto keep = tensor<1>::from_shape({100});  // 400 bytes alive before the scopes
  memory::peak_scope outer;
  {
    auto big = tensor<1>::from_shape({1000});  // 4000
  }
  std::size_t inner_peak = 0;
  {
    memory::peak_scope inner;
    auto small = tensor<1>::from_shape({10});  // 40
    inner_peak = inner.peak_bytes();
    CHECK(inner.allocations() == 1);
  }
  CHECK(inner_peak == 40);
  CHECK(outer.peak_bytes() == 4000);  // the inner scope did not hide the outer peak
  CHECK(outer.allocations() == 2);
  CHECK(outer.start_live_bytes() == memory::tracker().live_bytes());
}

TEST_CASE("the timeline records live bytes after every allocation and free") {
  auto& t = memory::tracker();
  const std::size_t base = t.live_bytes();
  t.record_timeline(true);
  {
    auto a = tensor<1>::from_shape({256});  // 1 KiB
    auto b = tensor<1>::from_shape({512});  // 2 KiB
  }                                         // b then a freed
  t.record_timeline(false);
  const auto& events = t.timeline();
  REQUIRE(events.size() == 5);  // the start, two allocations, two frees
  const std::size_t expected[] = {base, base + 1024, base + 3072, base + 1024, base};
  for (std::size_t i = 0; i < 5; ++i) {
    CAPTURE(i);
    CHECK(events[i].live_bytes == expected[i]);
    if (i > 0) CHECK(events[i].time_ms >= events[i - 1].time_ms);
  }
}

TEST_CASE("tracked memory is 64-byte aligned") {
  for (std::size_t n : {1, 3, 17, 1000}) {
    auto t = tensor<1>::from_shape({n});
    CHECK(reinterpret_cast<std::uintptr_t>(t.data()) % 64 == 0);
  }
}
