#include "paged_kv_cache/serving.hpp"

#include <algorithm>
#include <cmath>
#include <deque>
#include <memory>
#include <sstream>
#include <stdexcept>
#include <string>

#include "base/error.hpp"
#include "base/limits.hpp"
#include "base/random.hpp"
#include "kv_cache/kv_cache.hpp"

namespace memlab::serving {
namespace {

// The latest step a request may arrive at (arrivals are ints), and the bytes a
// request takes in a run: itself, the three servers' outcomes, the paged
// server's progress and queue entries.
constexpr double max_arrival = 1 << 30;
constexpr std::size_t bytes_per_request = sizeof(request) + 3 * sizeof(request_outcome) + 32;

// Draws round(LogNormal(mean, sigma)).
long lognormal(rng& gen, double mean, double sigma) {
  const double mu = std::log(mean) - sigma * sigma / 2;
  return std::lround(std::exp(mu + sigma * double(gen.normal())));
}

void check_stream(const stream_config& c) {
  require_positive(c.requests, "requests");
  require(std::isfinite(c.rate) && c.rate > 0, "rate", c.rate,
          "a positive number of arrivals per step");
  require(std::isfinite(c.prompt_mean) && c.prompt_mean >= 1, "prompt_mean", c.prompt_mean,
          "at least 1 token");
  require(std::isfinite(c.output_mean) && c.output_mean >= 1, "output_mean", c.output_mean,
          "at least 1 token");
  require(std::isfinite(c.prompt_sigma) && c.prompt_sigma >= 0 && c.prompt_sigma <= 4,
          "prompt_sigma", c.prompt_sigma, "in [0, 4]");
  require(std::isfinite(c.output_sigma) && c.output_sigma >= 0 && c.output_sigma <= 4,
          "output_sigma", c.output_sigma, "in [0, 4]");
  require(c.shared_prefix >= 0, "shared_prefix", c.shared_prefix, "0 or more tokens");
  require(c.max_seq >= c.shared_prefix + 2, "max_seq", c.max_seq, [&] {
    return "at least " + named("shared_prefix", c.shared_prefix) +
           " + 2 (a user token and an output)";
  });
  // Arrivals are int steps: the stream's expected span must stay far inside.
  require((c.requests - 1) / c.rate <= max_arrival / 2, "rate", c.rate, [&] {
    std::ostringstream text;
    text << "at least " << (c.requests - 1) / (max_arrival / 2) << " for "
         << named("requests", c.requests) << " to arrive within " << long(max_arrival / 2)
         << " steps";
    return text.str();
  });
  require_bytes(count(c.requests) * bytes_per_request,
                {{"requests", c.requests}, {"max_seq", c.max_seq}}, "the requests and outcomes");
}

// Blocks of the pool, checked: at least one sequence of max_seq tokens fits,
// and the pool (K and V, one float each per slot; a block's table entries and
// counts) and the contiguous servers' caches within one call's bytes.
std::size_t pool_blocks(const serving_config& c) {
  const std::size_t bs = require_positive(c.block_size, "block_size");
  const std::size_t budget = require_positive(c.budget, "budget");
  require(budget / bs * bs >= std::size_t(c.stream.max_seq), "budget", c.budget, [&] {
    return "room for one sequence of " + named("max_seq", c.stream.max_seq) +
           " in whole blocks of " + named("block_size", c.block_size);
  });
  require_bytes(count(budget) * 2 * sizeof(float) * 2 + count(budget / bs) * 64,
                {{"budget", c.budget}, {"block_size", c.block_size}},
                "the paged pool and the contiguous caches");
  return budget / bs;
}

void check_server(const serving_config& c) {
  check_stream(c.stream);
  pool_blocks(c);
  require_positive(c.max_batch, "max_batch");
  require(std::isfinite(c.watermark) && c.watermark >= 0 && c.watermark < 1, "watermark",
          c.watermark, "in [0, 1)");
  require(c.preemption == "recompute" || c.preemption == "swap", "preemption", c.preemption,
          "recompute or swap");
  require(std::isfinite(c.kv_bytes_per_token) && c.kv_bytes_per_token > 0, "kv_bytes_per_token",
          c.kv_bytes_per_token, "a positive number of bytes");
}

void check_requests(const std::vector<request>& requests, int max_seq) {
  require(!requests.empty(), "requests.size()", 0, "at least 1 request");
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const request& r = requests[i];
    require(r.id == int(i), "requests[i].id", r.id,
            [&] { return "its index " + std::to_string(i); });
    require(r.arrival >= 0 && (i == 0 || r.arrival >= requests[i - 1].arrival),
            "requests[i].arrival", r.arrival, "a step at or after the previous request's");
    require(r.prompt >= 1 && r.output >= 1 && r.prompt + r.output <= max_seq,
            "requests[i].prompt + output", r.prompt + r.output,
            [&] { return "prompt, output >= 1 and at most " + named("max_seq", max_seq); });
  }
}

// Stores K and V of n tokens in the simulator's geometry: [1 kv head, n, head_dim 1].
void append(kv_cache& cache, std::size_t n) {
  if (n == 0) return;
  const tensor<3> kv(std::array<std::size_t, 3>{1, n, 1}, 1.0f);
  cache.append(0, kv, kv);
}

// What both servers record: the timeline, the outcomes, and the totals at the end.
//
// It also meters the run against base/limits.hpp, since the steps a stream
// takes are only known by running it: each step visits `fixed_visits` (the
// pool's blocks, which count_slots walks, or the batch's rows) and the waiting
// sequences, at visit_flops each, and serves every running one, at
// running_flops each (serving.hpp); it keeps `step_bytes` (its timeline record,
// and its picture when snapshots are taken). A server may do a third of a
// call's work and keep a third of its bytes: run_serving runs three.
struct recorder {
  server_figures f;
  const std::vector<request>* requests;
  const serving_config* config;
  int busy_steps = 0;  // with at least one sequence running
  double fixed_visits, work = 0, step_bytes, bytes = 0;

  recorder(std::string name, const std::vector<request>& r, const serving_config& c, double fixed,
           double per_step_bytes)
      : requests(&r), config(&c), fixed_visits(fixed), step_bytes(per_step_bytes) {
    f.name = std::move(name);
    f.outcomes.resize(r.size());
    for (std::size_t i = 0; i < r.size(); ++i) f.outcomes[i].id = int(i);
  }

  void meter(const step_record& s) {
    work += visit_flops * (fixed_visits + s.waiting + 1) + running_flops * s.running;
    bytes += step_bytes + sizeof(step_record);
    const std::initializer_list<sized> sizes{{"requests", config->stream.requests},
                                             {"budget", config->budget},
                                             {"block_size", config->block_size},
                                             {"max_batch", config->max_batch}};
    const std::string what =
        "the " + f.name + " server, a third of the limit, at step " + std::to_string(s.step);
    require_work(3 * work, sizes, what.c_str());
    require_bytes(count(3) * static_cast<std::uint64_t>(bytes), sizes, what.c_str());
  }

  void record(const step_record& s) {
    meter(s);
    f.timeline.push_back(s);
    f.tokens += std::size_t(s.running);
    f.computed += std::size_t(s.computed);
    f.max_running = std::max(f.max_running, s.running);
    busy_steps += s.running > 0;
    f.allocated_slot_steps += double(s.slots.allocated);
    f.used_slot_steps += double(s.slots.used);
    f.reservation_slot_steps += double(s.slots.reservation);
    f.fragmentation_slot_steps += double(s.slots.fragmentation);
    f.idle_slot_steps += double(s.slots.idle);
    f.peak_allocated = std::max(f.peak_allocated, s.slots.allocated);
    f.max_shared_blocks = std::max(f.max_shared_blocks, s.slots.shared_blocks);
    f.preemptions += s.preemptions;
  }

  server_figures finish() {
    f.steps = int(f.timeline.size());
    f.tokens_per_step = double(f.tokens) / f.steps;
    f.mean_running = double(f.tokens) / std::max(1, busy_steps);  // running = tokens produced
    f.waste = f.allocated_slot_steps > 0 ? 1 - f.used_slot_steps / f.allocated_slot_steps : 0;
    double latency = 0, normalized = 0;
    for (const request_outcome& o : f.outcomes) {
      const request& r = (*requests)[std::size_t(o.id)];
      if (o.produced != r.output || o.finished < 0)
        throw std::logic_error("serving: request " + std::to_string(o.id) + " produced " +
                               std::to_string(o.produced) + " of " + std::to_string(r.output) +
                               " tokens");
      const double steps = o.finished - r.arrival + 1;
      latency += steps;
      normalized += steps / r.output;
    }
    f.mean_latency = latency / double(f.outcomes.size());
    f.mean_normalized_latency = normalized / double(f.outcomes.size());
    return std::move(f);
  }
};

// A bound on the steps of any run: every request alone, one after the other,
// after the last arrival. Passing it means the scheduler stopped making progress.
long step_limit(const std::vector<request>& requests) {
  long limit = requests.back().arrival + 1;
  for (const request& r : requests) limit += 2L * (r.output + 1);
  return limit;
}

[[noreturn]] void stuck(const char* server) {
  throw std::logic_error(std::string("serving: the ") + server + " server stopped making progress");
}

}  // namespace

std::vector<request> make_requests(const stream_config& c) {
  check_stream(c);
  rng gen(c.seed);
  std::vector<request> out(std::size_t(c.requests));
  double t = 0;
  for (int i = 0; i < c.requests; ++i) {
    if (i > 0) t += -std::log(1.0 - double(gen.uniform())) / c.rate;  // exponential gap
    request& r = out[std::size_t(i)];
    r.id = i;
    require(t <= max_arrival, "rate", c.rate, [&] {
      std::ostringstream text;
      text << "arrivals within " << long(max_arrival) << " steps (request " << i << " of "
           << named("requests", c.requests) << " came at step " << std::floor(t) << ")";
      return text.str();
    });
    r.arrival = int(std::floor(t));
    const long user = std::max(1L, lognormal(gen, c.prompt_mean, c.prompt_sigma));
    r.prompt = int(std::min<long>(c.shared_prefix + user, c.max_seq - 1));
    const long output = std::max(1L, lognormal(gen, c.output_mean, c.output_sigma));
    r.output = int(std::min<long>(output, c.max_seq - r.prompt));
  }
  return out;
}

std::vector<int> prompt_tokens(const request& r, int shared_prefix) {
  std::vector<int> tokens(std::size_t(r.prompt));
  for (int i = 0; i < r.prompt; ++i)
    tokens[std::size_t(i)] = i < shared_prefix ? i + 1 : -(r.id + 1);
  return tokens;
}

// ---- contiguous caches: static or continuous batching -------------------------

namespace {

server_figures run_contiguous(const std::vector<request>& requests, const serving_config& config,
                              bool continuous) {
  check_server(config);
  const int max_seq = config.stream.max_seq;
  check_requests(requests, max_seq);
  const std::size_t rows =
      std::min<std::size_t>(std::size_t(config.max_batch), std::size_t(config.budget / max_seq));

  struct member {
    int id;
    std::unique_ptr<contiguous_kv_cache> cache;
    int produced = 0;
  };
  const auto done = [&](const member& m) {
    return m.produced == requests[std::size_t(m.id)].output;
  };
  recorder rec(continuous ? "continuous contiguous" : "static", requests, config, double(rows), 0);
  std::vector<member> batch;
  std::deque<int> waiting;
  std::size_t arrived = 0, finished = 0;
  const long limit = step_limit(requests);
  for (int step = 0; finished < requests.size(); ++step) {
    if (step > limit) stuck(rec.f.name.c_str());
    while (arrived < requests.size() && requests[arrived].arrival <= step)
      waiting.push_back(int(arrived++));
    // Static: a batch ends when its last request does, and every cache of it
    // is released together. Continuous: a finished request's row is free at once.
    if (continuous || std::all_of(batch.begin(), batch.end(), done))
      batch.erase(std::remove_if(batch.begin(), batch.end(), done), batch.end());
    if (continuous || batch.empty())
      while (!waiting.empty() && batch.size() < rows) {
        const int id = waiting.front();
        waiting.pop_front();
        batch.push_back({id, std::make_unique<contiguous_kv_cache>(1, 1, max_seq, 1)});
        rec.f.outcomes[std::size_t(id)].admitted = step;
      }
    step_record s;
    s.step = step;
    for (member& m : batch) {
      const request& r = requests[std::size_t(m.id)];
      const std::size_t final_length = std::size_t(r.prompt + r.output - 1);
      s.slots.allocated += std::size_t(max_seq);
      if (done(m)) {  // finished in an earlier step: held until the batch ends
        s.slots.idle += std::size_t(max_seq);
        continue;
      }
      const std::size_t need = std::size_t(r.prompt + m.produced) - m.cache->length();
      append(*m.cache, need);
      s.computed += int(need);
      ++m.produced;
      ++s.running;
      s.slots.used += m.cache->length();
      s.slots.reservation += final_length - m.cache->length();
      s.slots.fragmentation += std::size_t(max_seq) - final_length;
      auto& outcome = rec.f.outcomes[std::size_t(m.id)];
      outcome.produced = m.produced;
      if (done(m)) outcome.finished = step, ++finished;
    }
    s.waiting = int(waiting.size());
    rec.record(s);
  }
  return rec.finish();
}

}  // namespace

server_figures run_static(const std::vector<request>& requests, const serving_config& config) {
  return run_contiguous(requests, config, false);
}

server_figures run_continuous_contiguous(const std::vector<request>& requests,
                                         const serving_config& config) {
  return run_contiguous(requests, config, true);
}

// ---- continuous batching over the paged pool --------------------------------

namespace {

// The paged server's state between steps, and the steps of the header's list,
// each a member: run_paged below calls them in order, once per step.
class paged_server {
 public:
  // pictures: snapshot() is called after every step (its bytes are metered).
  paged_server(const std::vector<request>& requests, const serving_config& config, bool pictures)
      : requests_(requests),
        config_(config),
        bs_(std::size_t(config.block_size)),
        watermark_(std::size_t(std::ceil(config.watermark * double(pool_blocks(config))))),
        swap_(config.preemption == "swap"),
        pool_(1, 1, 1, bs_, pool_blocks(config)),
        state_(requests.size()),
        rec_("continuous paged", requests, config, double(pool_blocks(config)),
             pictures ? picture_bytes(pool_blocks(config), requests.size()) : 0),
        limit_(step_limit(requests)) {}

  bool all_finished() const { return finished_ == requests_.size(); }

  // Requests that have arrived by `step` join the back of the queue.
  void start_step(int step) {
    if (step > limit_) stuck(rec_.f.name.c_str());
    while (arrived_ < requests_.size() && requests_[arrived_].arrival <= step)
      waiting_.push_back(int(arrived_++));
    s_ = step_record{};
    s_.step = step;
  }

  // 1. Every running sequence stores the K/V it needs for its next token, in
  // admission order. When the pool cannot hold one's append, the
  // latest-admitted sequence is preempted until it can — possibly itself.
  void grow_running() {
    for (std::size_t i = 0; i < running_.size(); ++i) {
      while (i < running_.size()) {
        sequence& seq = running_[i];
        const std::size_t need = target(seq.id) - seq.cache->length();
        if (seq.cache->can_append(need)) {
          append(*seq.cache, need);
          s_.computed += int(need);
          break;
        }
        preempt_latest();
      }
    }
  }

  // 2. Unless this step preempted someone, the queue's head is admitted while
  // its blocks fit with the watermark still free (an empty batch ignores the
  // watermark), up to max_batch; it never skips ahead. An admitted request
  // attaches the pool's full blocks of its prompt, then computes the rest.
  void admit_waiting(int step) {
    while (s_.preemptions == 0 && !waiting_.empty() &&
           running_.size() < std::size_t(config_.max_batch)) {
      const int id = waiting_.front();
      const request& r = requests_[std::size_t(id)];
      auto cache = std::make_unique<paged_kv_cache>(pool_);
      const auto prompt = prompt_tokens(r, config_.stream.shared_prefix);
      const std::size_t attached = cache->attach_prefix(prompt);
      const std::size_t len = target(id), need = len - attached;
      const bool fits =
          cache->can_append(need) &&
          (running_.empty() || pool_.free_blocks() - cache->blocks_needed(need) >= watermark_);
      if (!fits) break;  // the head waits; cache's destructor lets go of the attached blocks
      append(*cache, need);
      progress& p = state_[std::size_t(id)];
      // Readmitted after a preemption: what it had stored beyond the attached
      // prefix is computed again, or copied back from host memory (swap).
      const std::size_t restored = p.produced > 0 ? p.stored - std::min(p.stored, attached) : 0;
      if (swap_)
        rec_.f.swapped_blocks += restored > 0 ? (p.stored + bs_ - 1) / bs_ - attached / bs_ : 0;
      else
        rec_.f.recomputed_tokens += restored;
      s_.computed += int(need - (swap_ ? restored : 0));
      auto& outcome = rec_.f.outcomes[std::size_t(id)];
      if (outcome.admitted < 0) outcome.admitted = step;
      running_.push_back({id, std::move(cache)});
      waiting_.pop_front();
      if (p.produced == 0) running_.back().cache->publish_prefix(prompt);
    }
  }

  // 3. Every running sequence produces one token; the step is recorded.
  void produce_tokens() {
    std::vector<const paged_kv_cache*> caches;
    std::vector<std::size_t> finals;
    for (sequence& seq : running_) {
      rec_.f.outcomes[std::size_t(seq.id)].produced = ++state_[std::size_t(seq.id)].produced;
      caches.push_back(seq.cache.get());
      finals.push_back(final_length(seq.id));
    }
    s_.running = int(running_.size());
    s_.waiting = int(waiting_.size());
    s_.slots = count_slots(pool_, caches, finals);
    if (config_.check) check_invariants(pool_, caches);
    rec_.record(s_);
  }

  // Sequences that produced their last token free their blocks, at the end of the step.
  void free_finished() {
    for (auto& seq : running_) {
      if (state_[std::size_t(seq.id)].produced < requests_[std::size_t(seq.id)].output) continue;
      rec_.f.outcomes[std::size_t(seq.id)].finished = s_.step;
      ++finished_;
      seq.cache.reset();
    }
    running_.erase(std::remove_if(running_.begin(), running_.end(),
                                  [](const sequence& q) { return !q.cache; }),
                   running_.end());
    if (config_.check) {
      std::vector<const paged_kv_cache*> caches;
      for (const sequence& seq : running_) caches.push_back(seq.cache.get());
      check_invariants(pool_, caches);
    }
  }

  // The pool after produce_tokens: owners, reference counts, fill, tables.
  pool_snapshot snapshot() const {
    const std::size_t blocks = pool_.blocks();
    pool_snapshot snap;
    snap.step = s_.step;
    snap.owner.assign(blocks, -1);
    snap.refcount.resize(blocks);
    snap.filled.assign(blocks, 0);
    for (std::size_t b = 0; b < blocks; ++b) snap.refcount[b] = int(pool_.refcount(b));
    for (const sequence& seq : running_) {
      pool_snapshot::sequence out;
      out.id = seq.id;
      out.length = int(seq.cache->length());
      out.produced = state_[std::size_t(seq.id)].produced;
      out.output = requests_[std::size_t(seq.id)].output;
      const auto& table = seq.cache->block_table();
      for (std::size_t i = 0; i < table.size(); ++i) {
        const std::size_t b = table[i];
        out.table.push_back(int(b));
        if (snap.owner[b] < 0) snap.owner[b] = seq.id;
        snap.filled[b] =
            std::max(snap.filled[b], int(std::min(bs_, std::size_t(out.length) - i * bs_)));
      }
      snap.sequences.push_back(std::move(out));
    }
    snap.waiting.assign(waiting_.begin(), waiting_.end());
    snap.preemptions = s_.preemptions;
    snap.slots = s_.slots;
    return snap;
  }

  server_figures finish() { return rec_.finish(); }

 private:
  // A snapshot: owner, refcount and filled per block, the tables, the queue.
  static double picture_bytes(std::size_t blocks, std::size_t requests) {
    return double(sizeof(pool_snapshot)) + 4.0 * (4.0 * double(blocks) + double(requests)) +
           double(sizeof(pool_snapshot::sequence)) * double(requests);
  }

  struct sequence {
    int id;
    std::unique_ptr<paged_kv_cache> cache;
  };
  struct progress {
    int produced = 0;
    std::size_t stored = 0;  // tokens it had stored when last preempted
  };

  // Tokens a sequence must have stored to produce its next token.
  std::size_t target(int id) const {
    return std::size_t(requests_[std::size_t(id)].prompt + state_[std::size_t(id)].produced);
  }
  std::size_t final_length(int id) const {
    const request& r = requests_[std::size_t(id)];
    return std::size_t(r.prompt + r.output - 1);
  }

  // The latest-admitted running sequence frees its blocks and goes back to the
  // front of the queue (swap: its private blocks are counted as copied out).
  void preempt_latest() {
    sequence& victim = running_.back();
    progress& p = state_[std::size_t(victim.id)];
    p.stored = victim.cache->length();
    if (swap_)
      for (std::size_t b : victim.cache->block_table())
        rec_.f.swapped_blocks += pool_.refcount(b) == 1;
    victim.cache.reset();  // frees its blocks
    ++rec_.f.outcomes[std::size_t(victim.id)].preemptions;
    ++s_.preemptions;
    waiting_.push_front(victim.id);
    running_.pop_back();
  }

  const std::vector<request>& requests_;
  const serving_config& config_;
  const std::size_t bs_, watermark_;  // watermark: blocks kept free when admitting
  const bool swap_;
  block_pool pool_;
  std::vector<progress> state_;    // by request id
  std::vector<sequence> running_;  // in admission order
  std::deque<int> waiting_;        // arrived, not running; preempted ones at the front
  std::size_t arrived_ = 0, finished_ = 0;
  recorder rec_;
  const long limit_;
  step_record s_;  // the step being run
};

}  // namespace

server_figures run_paged(const std::vector<request>& requests, const serving_config& config,
                         std::vector<pool_snapshot>* snapshots) {
  check_server(config);
  check_requests(requests, config.stream.max_seq);
  paged_server server(requests, config, snapshots != nullptr);
  for (int step = 0; !server.all_finished(); ++step) {
    server.start_step(step);     // arrivals join the queue
    server.grow_running();       // 1. preempting the latest-admitted when blocks run out
    server.admit_waiting(step);  // 2. unless someone was preempted
    server.produce_tokens();     // 3. one token each; the step recorded
    if (snapshots) snapshots->push_back(server.snapshot());
    server.free_finished();
  }
  return server.finish();
}

// ---- the experiment -----------------------------------------------------------

serving_figures run_serving(const serving_config& config) {
  check_server(config);
  serving_figures out;
  out.config = config;
  const auto requests = make_requests(config.stream);
  out.requests = requests.size();
  for (const request& r : requests) {
    out.mean_prompt += r.prompt;
    out.mean_output += r.output;
    out.output_tokens += std::size_t(r.output);
  }
  out.mean_prompt /= double(requests.size());
  out.mean_output /= double(requests.size());
  out.last_arrival = requests.back().arrival;
  out.paged = run_paged(requests, config);
  if (config.run_contiguous) {
    out.static_batching = run_static(requests, config);
    out.continuous_contiguous = run_continuous_contiguous(requests, config);
    out.throughput_gain = out.paged.tokens_per_step / out.static_batching.tokens_per_step;
    out.concurrency_gain = out.paged.mean_running / out.static_batching.mean_running;
    out.paging_gain = out.paged.tokens_per_step / out.continuous_contiguous.tokens_per_step;
  }
  return out;
}

serving_figures run_serving(const serving_config& config, int points) {
  require_positive(points, "points");
  serving_figures r = run_serving(config);
  for (auto* f : {&r.static_batching, &r.continuous_contiguous, &r.paged})
    f->chart = downsample(f->timeline, points);
  return r;
}

std::vector<timeline_point> downsample(const std::vector<step_record>& timeline, int points) {
  const std::size_t n = require_positive(points, "points");
  const std::size_t window = std::max<std::size_t>(1, (timeline.size() + n - 1) / n);
  std::vector<timeline_point> out;
  double tokens = 0;
  for (std::size_t from = 0; from < timeline.size(); from += window) {
    const std::size_t to = std::min(timeline.size(), from + window);
    timeline_point p;
    p.step = timeline[from].step;
    for (std::size_t i = from; i < to; ++i) {
      const step_record& s = timeline[i];
      p.running += s.running;
      p.waiting += s.waiting;
      p.allocated += double(s.slots.allocated);
      p.used += double(s.slots.used);
      p.wasted += double(s.slots.allocated - s.slots.used);
      tokens += s.running;
    }
    p.tokens_so_far = tokens;
    const double k = double(to - from);
    p.running /= k, p.waiting /= k, p.allocated /= k, p.used /= k, p.wasted /= k;
    out.push_back(p);
  }
  return out;
}

std::vector<pool_snapshot> snapshot_run(const serving_config& config) {
  require(pool_blocks(config) <= 256, "budget / block_size",
          config.budget / std::max(1, config.block_size), "at most 256 blocks to picture");
  require(config.stream.requests <= 64, "requests", config.stream.requests,
          "at most 64 to picture");
  std::vector<pool_snapshot> snapshots;
  run_paged(make_requests(config.stream), config, &snapshots);
  return snapshots;
}

}  // namespace memlab::serving
