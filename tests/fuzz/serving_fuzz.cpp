// serving_fuzz.cpp — libFuzzer target: the serving simulator's request stream
// and its three servers, on streams drawn from fuzzed configs and on request
// lists written directly.
//
// The input either gives a stream_config (requests, rate, means, sigmas,
// max_seq, shared prefix, seed: mostly sensible, sometimes hostile: a rate of
// 1e-12, NaN, a negative size) for make_requests, or writes the requests
// itself (arrival gaps, prompt and output lengths: possibly out of order or too
// long), and a serving_config (budget, block size, batch, watermark,
// preemption) with the pool's invariants checked after every step. Each must
// be refused with memlab::invalid_argument or give:
//   - a stream in arrival order, ids 0..n-1, 1 <= prompt, 1 <= output,
//     prompt + output <= max_seq, prompts holding the shared prefix;
//   - servers that produce every request's output (the simulator itself throws
//     std::logic_error when one is left unfinished or the pool breaks), the
//     same tokens and the same used slot-steps (a request holds p + k - 1
//     tokens in its k-th step whichever server runs it), no step before a
//     request's arrival.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "base/error.hpp"
#include "fuzz_input.hpp"
#include "paged_kv_cache/serving.hpp"

namespace memlab::fuzz {
namespace {

void check_stream(const std::vector<serving::request>& requests, const serving::stream_config& c) {
  for (std::size_t i = 0; i < requests.size(); ++i) {
    const auto& r = requests[i];
    if (r.id != int(i) || r.arrival < 0 || (i > 0 && r.arrival < requests[i - 1].arrival))
      fail("stream: request " + std::to_string(i) + " out of order");
    if (r.prompt < 1 || r.output < 1 || r.prompt + r.output > c.max_seq)
      fail("stream: request " + std::to_string(i) + " has prompt " + std::to_string(r.prompt) +
           ", output " + std::to_string(r.output) + " for max_seq " + std::to_string(c.max_seq));
    if (r.prompt < std::min(c.shared_prefix + 1, c.max_seq - 1))
      fail("stream: request " + std::to_string(i) + " lacks the shared prefix");
  }
  if (requests.size() != std::size_t(c.requests)) fail("stream: wrong number of requests");
}

void check_servers(const std::vector<serving::request>& requests,
                   const serving::serving_config& c) {
  std::size_t outputs = 0;
  for (const auto& r : requests) outputs += std::size_t(r.output);
  const auto paged = serving::run_paged(requests, c);
  const auto fixed = serving::run_static(requests, c);
  const auto continuous = serving::run_continuous_contiguous(requests, c);
  for (const auto* f : {&paged, &fixed, &continuous}) {
    if (f->tokens != outputs) fail("serving: " + f->name + " produced the wrong number of tokens");
    // Used slots are physical ones: with a shared prefix the paged server
    // holds its blocks once.
    if (f->used_slot_steps != fixed.used_slot_steps && (f != &paged || c.stream.shared_prefix == 0))
      fail("serving: " + f->name + "'s used slot-steps differ from the static server's");
    for (const auto& o : f->outcomes)
      if (o.admitted < requests[std::size_t(o.id)].arrival || o.finished < o.admitted)
        fail("serving: " + f->name + " ran request " + std::to_string(o.id) + " out of time");
  }
}

}  // namespace

int fuzz_serving(const std::uint8_t* data, std::size_t size) {
  input in{data, size};
  serving::serving_config c;
  c.stream.max_seq = in.size_in(2, 96);
  c.stream.shared_prefix = in.byte() < 200 ? int(in.below(8)) : in.size_in(0, 200);
  // (in 64 bits: max_seq may be any int, and the budget saturates at int's maximum)
  c.budget = in.byte() < 230
                 ? int(std::min<long long>(
                       1LL * c.stream.max_seq * (1 + int(in.below(4))) + int(in.below(64)),
                       std::numeric_limits<int>::max()))
                 : in.size_in(0, 1 << 12);
  c.block_size = in.size_in(1, 16);
  c.max_batch = in.size_in(1, 12);
  c.watermark = in.byte() < 240 ? in.below(50) / 100.0 : double(in.value());
  c.preemption = in.byte() % 2 ? "recompute" : (in.byte() < 250 ? "swap" : "evict");
  c.check = true;
  try {
    std::vector<serving::request> requests;
    if (in.byte() % 2) {  // a stream drawn from a config
      c.stream.requests = in.size_in(1, 24);
      // A raw huge count (size_in's hostile draw) becomes one past what a call may hold,
      // refused before anything is drawn: a valid stream of thousands of requests only
      // costs time (6400, checked every step, took 14 s an input under ASan and the
      // bounded run timed out).
      if (c.stream.requests > 24) c.stream.requests = std::numeric_limits<int>::max();
      const double rates[] = {0.05, 0.3, 1, 4, 1e-12, NAN, -1, 0};
      c.stream.rate = rates[in.byte() % 8 < 6 ? in.byte() % 4 : 4 + in.byte() % 4];
      c.stream.prompt_mean = 1 + in.below(40);
      c.stream.output_mean = in.byte() < 250 ? double(1 + in.below(40)) : double(in.value());
      c.stream.prompt_sigma = in.below(50) / 10.0;  // up to 4.9: past 4 is refused
      c.stream.output_sigma = in.below(45) / 10.0;
      c.stream.seed = in.u32();
      requests = serving::make_requests(c.stream);
      check_stream(requests, c.stream);
    } else {  // requests written directly
      const std::size_t n = 1 + in.below(16);
      int arrival = 0;
      for (std::size_t i = 0; i < n; ++i) {
        serving::request r;
        r.id = in.byte() < 250 ? int(i) : int(in.below(20));
        arrival += in.byte() < 250 ? int(in.below(6)) : -1;
        r.arrival = arrival;
        r.prompt = 1 + int(in.below(40));
        r.output = 1 + int(in.below(40));
        requests.push_back(r);
      }
    }
    check_servers(requests, c);
  } catch (const memlab::invalid_argument&) {
    // refused, naming what is wrong
  }
  return 0;
}

}  // namespace memlab::fuzz

#ifdef MEMLAB_LIBFUZZER
extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return memlab::fuzz::fuzz_serving(data, size);
}
#endif
