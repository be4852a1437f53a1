// base/memory.hpp — exact heap accounting for everything core allocates.
//
// Every tensor, cache and activation buffer of core allocates through
// `tracking_allocator`, which reports to one process-wide `tracker()`. The
// tracker keeps live bytes, peak bytes and allocation counts, and can record a
// timeline of (time, live bytes) events. Because only core's own buffers are
// counted (not the C++ runtime, not the JS heap), the figures are exact and the
// same on every run: tests assert on them, the page graphs them.
//
//   memlab::tensor<3> q({heads, seq, head_dim});    // counted
//   memlab::memory::peak_scope scope;                // measure a region
//   run();
//   scope.peak_bytes();                              // bytes above the start
//
// Single-threaded by design (the wasm build is single-threaded; native benches
// run one thread), so the counters are plain integers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <vector>
#include <xtensor/xtensor.hpp>

namespace memlab::memory {

struct stats {
  std::size_t live_bytes = 0;     // allocated and not yet freed
  std::size_t peak_bytes = 0;     // highest live_bytes since the last reset
  std::size_t allocations = 0;    // number of allocate calls since the last reset
  std::size_t deallocations = 0;  // number of deallocate calls since the last reset
};

struct event {
  double time_ms;          // since the last reset
  std::size_t live_bytes;  // after the allocation or deallocation
};

class tracker_state {
 public:
  void on_allocate(std::size_t bytes);
  void on_deallocate(std::size_t bytes);

  stats current() const { return stats_; }
  std::size_t live_bytes() const { return stats_.live_bytes; }
  std::size_t peak_bytes() const { return stats_.peak_bytes; }

  // Starts a new measurement: peak := live, counts := 0, timeline cleared and
  // its clock restarted. Live bytes are never reset: they belong to buffers
  // that still exist.
  void reset();

  // Timeline recording (off by default: it costs an entry per allocation).
  void record_timeline(bool on);
  bool recording_timeline() const { return recording_; }
  const std::vector<event>& timeline() const { return timeline_; }

  // Used by peak_scope: set the peak, e.g. to restore an outer region's peak.
  void set_peak_bytes(std::size_t bytes) { stats_.peak_bytes = bytes; }

 private:
  void record();

  stats stats_;
  bool recording_ = false;
  std::vector<event> timeline_;  // deliberately not tracked: it is the instrument
  std::int64_t start_ns_ = 0;
};

// The one tracker every tracking_allocator reports to.
tracker_state& tracker();

// Measures the peak of a region: the highest live bytes reached after
// construction, minus the live bytes at construction. Scopes nest: an outer
// scope still sees the peak an inner one measured.
class peak_scope {
 public:
  peak_scope();
  ~peak_scope();
  peak_scope(const peak_scope&) = delete;
  peak_scope& operator=(const peak_scope&) = delete;

  std::size_t peak_bytes() const;   // above the live bytes at start
  std::size_t allocations() const;  // allocate calls inside the region
  std::size_t start_live_bytes() const { return start_live_; }

 private:
  std::size_t start_live_;
  std::size_t outer_peak_;
  std::size_t start_allocations_;
};

// A standard allocator that counts through tracker(). Memory is 64-byte
// aligned so that rows start on a cache line and vector loads are aligned.
template <class T>
struct tracking_allocator {
  using value_type = T;
  static constexpr std::align_val_t alignment{64};

  tracking_allocator() noexcept = default;
  template <class U>
  tracking_allocator(const tracking_allocator<U>&) noexcept {}

  T* allocate(std::size_t n) {
    const std::size_t bytes = n * sizeof(T);
    T* p = static_cast<T*>(::operator new(bytes, alignment));
    tracker().on_allocate(bytes);
    return p;
  }
  void deallocate(T* p, std::size_t n) noexcept {
    tracker().on_deallocate(n * sizeof(T));
    ::operator delete(p, alignment);
  }

  template <class U>
  bool operator==(const tracking_allocator<U>&) const noexcept {
    return true;
  }
  template <class U>
  bool operator!=(const tracking_allocator<U>&) const noexcept {
    return false;
  }
};

}  // namespace memlab::memory

namespace memlab {

// Core's tensor type: row-major fp32 whose storage is counted by the tracker.
template <std::size_t N>
using tensor = xt::xtensor<float, N, xt::layout_type::row_major, memory::tracking_allocator<float>>;

// A tracked plain buffer (for scratch that has no tensor shape).
template <class T>
using buffer = std::vector<T, memory::tracking_allocator<T>>;

}  // namespace memlab
