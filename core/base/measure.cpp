#include "base/measure.hpp"

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <vector>

#include "base/limits.hpp"
#include "base/memory.hpp"

namespace memlab {

run_figures measure(int repeats, const std::function<void()>& fn, double flops) {
  require_repeats(repeats);
  run_figures figures;
  const bool rss = reset_peak_rss();
  std::vector<double> times;
  // Run 0 is a warm-up, not timed: the first call pays for cold caches, page
  // faults and (in wasm) lazy compilation tiers, which a median should not see.
  for (int r = 0; r <= repeats; ++r) {
    memory::peak_scope scope;
    const auto start = std::chrono::steady_clock::now();
    fn();
    const auto stop = std::chrono::steady_clock::now();
    if (r > 0) times.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    figures.peak_bytes = std::max(figures.peak_bytes, scope.peak_bytes());
  }
  std::sort(times.begin(), times.end());
  const std::size_t n = times.size();
  figures.median_ms = n % 2 ? times[n / 2] : 0.5 * (times[n / 2 - 1] + times[n / 2]);
  figures.peak_rss_bytes = rss ? peak_rss_bytes() : -1;
  if (figures.median_ms > 0) figures.gflops = flops / (figures.median_ms * 1e6);
  figures.ran = true;
  return figures;
}

run_figures measure_batched(int repeats, const std::function<void()>& fn, double flops,
                            double min_batch_ms) {
  int calls = 1;
  for (;; calls *= 2) {
    const auto start = std::chrono::steady_clock::now();
    for (int c = 0; c < calls; ++c) fn();
    const std::chrono::duration<double, std::milli> ms = std::chrono::steady_clock::now() - start;
    if (ms.count() >= min_batch_ms || calls >= (1 << 20)) break;
  }
  run_figures figures = measure(
      repeats,
      [&] {
        for (int c = 0; c < calls; ++c) fn();
      },
      flops * calls);
  figures.median_ms /= calls;
  return figures;
}

#if defined(__linux__)
bool reset_peak_rss() {
  // Writing 5 to clear_refs resets VmHWM, the peak resident set (Linux >= 4.0).
  std::ofstream clear("/proc/self/clear_refs");
  clear << "5";
  return static_cast<bool>(clear.flush());
}

std::int64_t peak_rss_bytes() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "VmHWM:") {
      std::int64_t kib = -1;
      status >> kib;
      return kib < 0 ? -1 : kib * 1024;
    }
    status.ignore(1 << 12, '\n');
  }
  return -1;
}
#else
bool reset_peak_rss() { return false; }
std::int64_t peak_rss_bytes() { return -1; }
#endif

}  // namespace memlab
