// base/parallel.hpp — a small pool of threads for core's parallel loops.
//
//   for_each(count, body): body(i, worker) once for every i in [0, count), spread
//   over threads() threads; the calling thread is worker 0 and works too.
//
// Indexes are handed out one at a time from a shared counter, so tasks of
// uneven cost (causal attention's Q tiles) balance themselves. Which worker runs
// an index is up to the scheduler, so a body must compute index i the same way
// on any worker and write only what i owns: then the result is the same, bit
// for bit, on any number of threads (the tests check flash attention on 1 and 2).
// `worker` (< min(threads(), count)) is there to pick per-worker scratch that
// the caller allocated before the loop.
//
// Bodies must not allocate tracked memory (the tracker, base/memory.hpp, is
// single-threaded) and should not throw; if one does, the first exception is
// rethrown on the calling thread once every worker has stopped.
//
// Cost: waking the workers and waiting for them, some tens of microseconds a
// call: worth it for loops of a millisecond or more (attention over long
// sequences), not for one decoding step. With one thread, for_each is a plain
// loop on the caller. The wasm build has no threads (a static host cannot send
// the headers SharedArrayBuffer needs): there threads() is always 1.
#pragma once

#include <cstddef>
#include <functional>

namespace memlab::parallel {

// Threads core's parallel loops use; 1 until set_threads changes it.
int threads();

// Most threads this build and machine offer: std::thread::hardware_concurrency()
// natively (at least 1), 1 in wasm.
int max_threads();

// Sets the number of threads, 1 <= n <= 64; throws memlab::invalid_argument
// otherwise, or for n > 1 in a build without threads. Starts or stops workers.
void set_threads(int n);

// body(i, worker) for i < count on min(threads(), count) threads; returns when
// all are done.
void for_each(std::size_t count, const std::function<void(std::size_t, int)>& body);

// Sets the thread count for a scope, restoring the previous one at its end.
class scoped_threads {
 public:
  explicit scoped_threads(int n) : previous_(threads()) { set_threads(n); }
  ~scoped_threads() { set_threads(previous_); }
  scoped_threads(const scoped_threads&) = delete;
  scoped_threads& operator=(const scoped_threads&) = delete;

 private:
  int previous_;
};

}  // namespace memlab::parallel
