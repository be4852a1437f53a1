// base/measure.hpp — time and memory figures of one run of something.
//
// Time is the median of repeated runs after a warm-up (robust to a stray slow
// run); memory is the tracker's peak above the live bytes at the start of a run,
// which is exact and the same every run. For an operation that returns a new
// tensor that peak is its output plus its scratch; its inputs are not counted. Where the platform
// tells (Linux), the process's peak resident set is measured too, after resetting the kernel's
// high-water mark.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace memlab {

struct run_figures {
  bool ran = false;
  double median_ms = 0;              // median wall time of the repeats
  std::size_t peak_bytes = 0;        // tracked heap peak above the start, of one run
  std::int64_t peak_rss_bytes = -1;  // process peak resident set during the runs; -1 if unknown
  double gflops = 0;                 // flops / median time, when the work is given
};

// Runs fn once untimed (a warm-up), then `repeats` times timed; `flops` is the work of one run,
// for the rate (0: not counted). repeats must be in [1, limits::repeats] (base/limits.hpp); the
// caller checks the work of repeats + 1 runs against the limit before it allocates.
run_figures measure(int repeats, const std::function<void()>& fn, double flops = 0);

// measure(), with each timed run a batch of calls lasting at least min_batch_ms
// (the calls double from 1 until a batch does), reported per call: a browser's
// clock may tick every 100 µs, and a call shorter than that would read as 0 ms.
// fn must free what it allocates (or replace its previous result), so that the
// peak is that of one call.
run_figures measure_batched(int repeats, const std::function<void()>& fn, double flops = 0,
                            double min_batch_ms = 2.0);

// Resets the process's peak-RSS high-water mark; false where unsupported.
bool reset_peak_rss();
// The process's peak resident set in bytes since the last reset; -1 where unknown.
std::int64_t peak_rss_bytes();

}  // namespace memlab
