#include "base/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "base/error.hpp"

#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
#define MEMLAB_THREADS 0
#else
#define MEMLAB_THREADS 1
#endif

namespace memlab::parallel {
namespace {

// threads - 1 workers waiting for a loop; the caller is the last worker. A loop
// is published under the mutex with a new generation number; every worker takes
// indexes until none are left, then reports done. The pool outlives no loop:
// for_each returns only when `busy` is back to 0.
class pool {
 public:
  explicit pool(int threads) {
#if MEMLAB_THREADS
    for (int w = 1; w < threads; ++w) workers_.emplace_back([this, w] { work(w); });
#endif
    threads_ = 1 + static_cast<int>(workers_.size());
  }

  ~pool() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    wake_.notify_all();
    for (auto& t : workers_) t.join();
  }

  int threads() const { return threads_; }

  void for_each(std::size_t count, const std::function<void(std::size_t, int)>& body) {
    if (workers_.empty() || count <= 1) {
      for (std::size_t i = 0; i < count; ++i) body(i, 0);
      return;
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      body_ = &body;
      count_ = count;
      next_.store(0, std::memory_order_relaxed);
      busy_ = static_cast<int>(workers_.size());
      error_ = nullptr;
      ++generation_;
    }
    wake_.notify_all();
    run(0);
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, [&] { return busy_ == 0; });
    body_ = nullptr;
    if (error_) std::rethrow_exception(error_);
  }

 private:
  // Takes indexes until none are left. Only workers below count take part, so
  // that worker < min(threads, count) always.
  void run(int worker) {
    if (static_cast<std::size_t>(worker) >= count_) return;  // fewer tasks than threads
    for (std::size_t i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < count_;) {
      try {
        (*body_)(i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(mutex_);
        if (!error_) error_ = std::current_exception();
        next_.store(count_, std::memory_order_relaxed);  // the others stop early
      }
    }
  }

  void work(int worker) {
    std::uint64_t seen = 0;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mutex_);
        wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
        if (stop_) return;
        seen = generation_;
      }
      run(worker);
      std::lock_guard<std::mutex> lock(mutex_);
      if (--busy_ == 0) done_.notify_one();
    }
  }

  std::vector<std::thread> workers_;
  int threads_ = 1;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  const std::function<void(std::size_t, int)>* body_ = nullptr;
  std::size_t count_ = 0;
  std::atomic<std::size_t> next_{0};
  std::uint64_t generation_ = 0;
  int busy_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

std::unique_ptr<pool>& the_pool() {
  static std::unique_ptr<pool> p = std::make_unique<pool>(1);
  return p;
}

}  // namespace

int threads() { return the_pool()->threads(); }

int max_threads() {
#if MEMLAB_THREADS
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
#else
  return 1;
#endif
}

void set_threads(int n) {
  require(n >= 1 && n <= 64, "threads", n, "in [1, 64]");
  require(MEMLAB_THREADS || n == 1, "threads", n, "1 (this build has no threads)");
  if (n == threads()) return;
  auto& p = the_pool();
  p.reset();  // the old workers stop first
  p = std::make_unique<pool>(n);
}

void for_each(std::size_t count, const std::function<void(std::size_t, int)>& body) {
  the_pool()->for_each(count, body);
}

}  // namespace memlab::parallel
