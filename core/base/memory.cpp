#include "base/memory.hpp"

#include <algorithm>
#include <chrono>

namespace memlab::memory {
namespace {

std::int64_t now_ns() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(clock::now().time_since_epoch())
      .count();
}

}  // namespace

void tracker_state::on_allocate(std::size_t bytes) {
  stats_.live_bytes += bytes;
  stats_.peak_bytes = std::max(stats_.peak_bytes, stats_.live_bytes);
  ++stats_.allocations;
  if (recording_) record();
}

void tracker_state::on_deallocate(std::size_t bytes) {
  stats_.live_bytes -= bytes;
  ++stats_.deallocations;
  if (recording_) record();
}

void tracker_state::reset() {
  stats_.peak_bytes = stats_.live_bytes;
  stats_.allocations = 0;
  stats_.deallocations = 0;
  timeline_.clear();
  start_ns_ = now_ns();
  if (recording_) record();
}

void tracker_state::record_timeline(bool on) {
  recording_ = on;
  if (on) {
    timeline_.clear();
    start_ns_ = now_ns();
    record();
  }
}

void tracker_state::record() {
  timeline_.push_back({static_cast<double>(now_ns() - start_ns_) * 1e-6, stats_.live_bytes});
}

tracker_state& tracker() {
  static tracker_state instance;
  return instance;
}

peak_scope::peak_scope()
    : start_live_(tracker().live_bytes()),
      outer_peak_(tracker().peak_bytes()),
      start_allocations_(tracker().current().allocations) {
  tracker().set_peak_bytes(start_live_);
}

peak_scope::~peak_scope() {
  tracker().set_peak_bytes(std::max(outer_peak_, tracker().peak_bytes()));
}

std::size_t peak_scope::peak_bytes() const { return tracker().peak_bytes() - start_live_; }

std::size_t peak_scope::allocations() const {
  return tracker().current().allocations - start_allocations_;
}

}  // namespace memlab::memory
