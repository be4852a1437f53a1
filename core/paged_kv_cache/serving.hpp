// paged_kv_cache/serving.hpp — serving a stream of requests from a fixed KV memory
// budget: static batching over contiguous caches vs continuous batching over
// the paged pool (vLLM's comparison, simulated).
//
// Time is counted in steps: one step is one forward pass over the batch, which
// gives every running sequence one new token. The model is not run, but the KV
// memory is real: every sequence holds a real contiguous_kv_cache or
// paged_kv_cache (over a real block_pool) of a tiny geometry — 1 layer, 1 KV
// head, head_dim 1, i.e. one float of K and one of V per token slot — so the
// figures are the data structures' own, exact and deterministic. Bytes are
// reported for a stated model through kv_bytes_per_token = 2 (K and V) · layers
// · kv_heads · head_dim · bytes per value; the default is OPT-13B in fp16,
// 2 · 40 · 40 · 128 · 2 = 819,200 B, the "800 KB per token" of the vLLM paper
// (Kwon et al. 2023), and the default budget of 16,384 token slots is 12.5 GiB,
// about what an A100-40GB has left for the KV cache next to OPT-13B's weights.
//
// The request stream (make_requests), drawn from one seed through memlab::rng:
//   arrivals  a Poisson process of `rate` requests per step: gaps are
//             exponential with mean 1 / rate, request i arrives at step
//             floor(t_i), t_0 = 0.
//   prompt    shared_prefix tokens common to every request (a system prompt),
//             then a user part of round(LogNormal(prompt_mean, prompt_sigma))
//             tokens, at least 1; the prompt is clipped to max_seq - 1.
//   output    round(LogNormal(output_mean, output_sigma)) tokens, clipped to
//             [1, max_seq - prompt], so prompt + output <= max_seq.
//   LogNormal(m, s) is exp(mu + s z), z ~ N(0, 1), mu = ln m - s^2 / 2: mean m
//   before rounding and clipping, log-standard-deviation s. The default means
//   are those of ShareGPT in the vLLM paper (161 prompt, 338 output tokens).
//   Prompt token ids: the shared part is 1, 2, ..., shared_prefix; the user
//   part repeats an id of the request's own, so prompts share exactly the
//   system prompt.
//
// A request with prompt p and output o: its first step stores the prompt's K
// and V (prefill) and gives output token 1; each later step stores the K and V
// of the token produced last and gives the next. It runs o steps and holds
// p + o - 1 tokens at its last one.
//
// Three servers, with the same budget of token slots:
//   static (contiguous)  when no batch runs and requests wait, the first
//       min(waiting, rows) of them form a batch, rows = min(max_batch,
//       budget / max_seq); each gets a contiguous cache of max_seq tokens
//       (max-length preallocation). The batch runs until its longest request
//       ends: a finished request keeps its cache (idle slots) until then.
//   continuous contiguous  the same caches, but scheduled per step (Orca's
//       iteration-level scheduling, "Orca (Max)" in the vLLM paper): a
//       finished request frees its row at the end of its step and a waiting
//       one takes it at the next. It isolates what paging adds to continuous
//       batching.
//   continuous paged     a pool of budget / block_size blocks. Each step
//       (run_paged reads as these steps: grow_running, admit_waiting,
//       produce_tokens, then the finished free their blocks):
//       1. running sequences grow by the K/V they need, in admission order;
//          when the pool has no block for one (the scheduler asks
//          paged_kv_cache::can_append first), the latest-admitted running
//          sequence is preempted (blocks freed, put back at the front of the
//          queue) until it fits — possibly itself;
//       2. unless someone was preempted, waiting requests are admitted in
//          arrival order (the head is never skipped) while their blocks fit
//          with watermark · blocks still free afterwards (an empty batch
//          ignores the watermark, so the head always runs), up to max_batch;
//          an admitted request first attaches the pool's full blocks of its
//          prompt (prefix sharing), then prefills the rest;
//       3. every running sequence produces one token; finished ones free
//          their blocks at the end of the step.
//   Preemption "recompute": the victim keeps its produced tokens; readmitted,
//   it prefills its prompt and them again (recomputed tokens: those it had
//   stored, minus what prefix sharing gives back). "swap" (simulated): its
//   private blocks go to host memory and come back on readmission (swapped
//   blocks, counted each way); nothing is recomputed.
//
// Figures per step (after the step's tokens, before finished sequences free):
// waiting and running sequences, tokens produced (= running), KV entries
// computed, and the slot figures of count_slots (allocated, used, reservation,
// fragmentation, idle, shared blocks). Waste over a run is
// sum(allocated - used) / sum(allocated) over its steps.
//
// Cost: O(steps · (running + blocks)) time; memory: the budget's slots, tiny.
// Limits (base/limits.hpp): a stream whose expected arrivals span more than 2^29
// steps is refused (rate, named), as are requests, budget and pictures past
// one call's bytes. The work is metered while the servers run (how many steps
// a stream takes is only known by running it): a step costs visit_flops per
// block of the pool (or row of the batch) and waiting sequence, and
// running_flops per running one, in flops of time (measured in wasm: 200
// requests of the default stream take ~2 s for the three servers, 5e9 by this
// count, at block size 16 and 1 alike); a server passing a third of the limit
// stops with an error naming the sizes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "paged_kv_cache/paged_kv_cache.hpp"

namespace memlab::serving {

// What a step costs per block, row or waiting sequence it visits, and per
// running sequence it serves (a token's K/V appended, its table walked), in
// flops of time.
constexpr double visit_flops = 128;
constexpr double running_flops = 32768;

// Sizes are ints so that a negative value from a command line or from JS is
// reported as such, not wrapped around.
struct stream_config {
  int requests = 200;
  double rate = 0.25;         // arrivals per step (Poisson)
  double prompt_mean = 161;   // user part, LogNormal mean
  double prompt_sigma = 1.0;  // LogNormal log-standard-deviation
  double output_mean = 338;
  double output_sigma = 1.0;
  int max_seq = 1024;     // prompt + output at most
  int shared_prefix = 0;  // system-prompt tokens every request starts with
  std::uint32_t seed = 1;
};

struct request {
  int id = 0;
  int arrival = 0;  // step
  int prompt = 0;   // tokens, shared prefix included
  int output = 0;   // tokens to produce
};

// The stream described above, in arrival order. O(requests).
std::vector<request> make_requests(const stream_config& config);

// A request's prompt token ids (see above): [prompt].
std::vector<int> prompt_tokens(const request& r, int shared_prefix);

struct serving_config {
  stream_config stream;
  int budget = 16384;                    // KV token slots, for both servers
  int block_size = 16;                   // tokens per block (paged)
  int max_batch = 256;                   // most running sequences
  double watermark = 0.01;               // share of blocks kept free when admitting
  std::string preemption = "recompute";  // recompute | swap
  double kv_bytes_per_token = 819200;    // of the model reported on (OPT-13B fp16)
  bool run_contiguous = true;            // also run the two contiguous servers
  bool check = false;                    // check_invariants after every step (tests)
};

struct step_record {
  int step = 0;
  int waiting = 0;   // arrived, not running (preempted ones included)
  int running = 0;   // sequences that produced a token this step (= tokens produced)
  int computed = 0;  // K/V entries computed: prefills, recomputes, one per decode
                     // (not the ones a swap brings back)
  int preemptions = 0;
  slot_figures slots;
};

struct request_outcome {
  int id = 0;
  int admitted = -1;  // first step it ran
  int finished = -1;  // step of its last token
  int produced = 0;   // tokens it produced (its output, when all went well)
  int preemptions = 0;
};

// One point of a timeline averaged over a window of steps (downsample below).
struct timeline_point {
  double step = 0;                                                       // first step of the window
  double running = 0, waiting = 0, allocated = 0, used = 0, wasted = 0;  // slots
  double tokens_so_far = 0;  // tokens produced up to the window's end (not averaged)
};

struct server_figures {
  std::string name;            // "static", "continuous contiguous", "continuous paged"
  int steps = 0;               // until the last request finished
  std::size_t tokens = 0;      // produced, over the run
  std::size_t computed = 0;    // K/V entries computed, over the run
  double tokens_per_step = 0;  // throughput: tokens / steps
  double mean_running = 0;     // concurrent sequences, mean over the steps where any ran
                               // (= tokens_per_step when the server is never idle)
  int max_running = 0;
  // Slot-steps: the per-step slot figures summed over the run.
  double allocated_slot_steps = 0, used_slot_steps = 0, reservation_slot_steps = 0,
         fragmentation_slot_steps = 0, idle_slot_steps = 0;
  double waste = 0;                // 1 - used / allocated slot-steps
  std::size_t peak_allocated = 0;  // slots
  std::size_t max_shared_blocks = 0;
  int preemptions = 0;
  std::size_t recomputed_tokens = 0;
  std::size_t swapped_blocks = 0;         // out and in
  double mean_latency = 0;                // steps from arrival to last token, + 1
  double mean_normalized_latency = 0;     // latency / output tokens, mean over requests
  std::vector<step_record> timeline;      // one per step
  std::vector<timeline_point> chart;      // the timeline downsampled (run_serving with points)
  std::vector<request_outcome> outcomes;  // by request id
};

// Each server over a given list of requests (arrival order, ids 0..n-1), as
// described above. Throws memlab::invalid_argument for a bad config or list.
server_figures run_static(const std::vector<request>& requests, const serving_config& config);
server_figures run_continuous_contiguous(const std::vector<request>& requests,
                                         const serving_config& config);

// A picture of the paged pool after one step, for the page's animation.
struct pool_snapshot {
  struct sequence {
    int id = 0;              // request id
    int length = 0;          // tokens stored
    int produced = 0;        // tokens produced so far
    int output = 0;          // tokens it will produce
    std::vector<int> table;  // its block table: physical block per logical block
  };
  int step = 0;
  std::vector<int> owner;           // [blocks]: request id of the oldest running holder, -1 free
  std::vector<int> refcount;        // [blocks]
  std::vector<int> filled;          // [blocks]: slots holding tokens
  std::vector<sequence> sequences;  // running, in admission order
  std::vector<int> waiting;         // request ids, in queue order
  int preemptions = 0;              // this step
  slot_figures slots;
};

// snapshots, when given, receives one pool_snapshot per step.
server_figures run_paged(const std::vector<request>& requests, const serving_config& config,
                         std::vector<pool_snapshot>* snapshots = nullptr);

struct serving_figures {
  serving_config config;
  std::size_t requests = 0;
  double mean_prompt = 0, mean_output = 0;  // of the stream drawn
  std::size_t output_tokens = 0;            // sum of outputs
  int last_arrival = 0;
  server_figures static_batching;        // empty when !config.run_contiguous
  server_figures continuous_contiguous;  // empty when !config.run_contiguous
  server_figures paged;
  // Continuous paged against static batching (the comparison), and
  // against continuous contiguous (what paging adds); 0 without them.
  double throughput_gain = 0;   // tokens per step, paged / static
  double concurrency_gain = 0;  // mean running, paged / static
  double paging_gain = 0;       // tokens per step, paged / continuous contiguous
};

// Draws the stream and runs the servers on it.
serving_figures run_serving(const serving_config& config);
// The same with each server's chart: its timeline averaged down to `points`
// points (downsample), what the page and memlab-bench paged --json draw.
serving_figures run_serving(const serving_config& config, int points);

// The run's timeline averaged over windows of ceil(steps / points) steps, for
// charts: each field the mean over its window.
std::vector<timeline_point> downsample(const std::vector<step_record>& timeline, int points);

// Small runs of the continuous server for the page's animation: every step's
// pool picture. The run must stay small: snapshots cost O(steps · blocks).
std::vector<pool_snapshot> snapshot_run(const serving_config& config);

}  // namespace memlab::serving
