// paged_kv_cache.cpp — the paged KV cache's serving simulator for JS: the three servers on
// a seeded request stream (summaries and downsampled timelines), and the pool's
// per-step pictures for the animation. Translation only.
#include <string>
#include <vector>

#include "api.hpp"
#include "paged_kv_cache/serving.hpp"

using namespace emscripten;
using namespace memlab;
using memlab::wasm::def;

namespace {

val int_array(const std::vector<int>& values) {
  // A view into wasm memory, copied by slice() before the vector is freed.
  return val(typed_memory_view(values.size(), values.data())).call<val>("slice");
}

val server(const serving::server_figures& f) {
  val out = val::object();
  out.set("name", f.name);
  out.set("steps", f.steps);
  out.set("tokens", double(f.tokens));
  out.set("computed", double(f.computed));
  out.set("tokensPerStep", f.tokens_per_step);
  out.set("meanRunning", f.mean_running);
  out.set("maxRunning", f.max_running);
  out.set("waste", f.waste);
  out.set("allocatedSlotSteps", f.allocated_slot_steps);
  out.set("usedSlotSteps", f.used_slot_steps);
  out.set("reservationSlotSteps", f.reservation_slot_steps);
  out.set("fragmentationSlotSteps", f.fragmentation_slot_steps);
  out.set("idleSlotSteps", f.idle_slot_steps);
  out.set("peakAllocated", double(f.peak_allocated));
  out.set("maxSharedBlocks", double(f.max_shared_blocks));
  out.set("preemptions", f.preemptions);
  out.set("recomputedTokens", double(f.recomputed_tokens));
  out.set("swappedBlocks", double(f.swapped_blocks));
  out.set("meanLatency", f.mean_latency);
  out.set("meanNormalizedLatency", f.mean_normalized_latency);
  val timeline = val::array();
  for (const auto& p : f.chart) {
    val point = val::object();
    point.set("step", p.step);
    point.set("running", p.running);
    point.set("waiting", p.waiting);
    point.set("allocated", p.allocated);
    point.set("used", p.used);
    point.set("wasted", p.wasted);
    point.set("tokensSoFar", p.tokens_so_far);
    timeline.call<void>("push", point);
  }
  out.set("timeline", timeline);
  return out;
}

// points: how many points each server's timeline is averaged down to.
val run_serving(serving::serving_config config, int points) {
  const auto r = serving::run_serving(config, points);
  val out = val::object();
  out.set("config", r.config);
  out.set("requests", double(r.requests));
  out.set("meanPrompt", r.mean_prompt);
  out.set("meanOutput", r.mean_output);
  out.set("outputTokens", double(r.output_tokens));
  out.set("lastArrival", r.last_arrival);
  out.set("paged", server(r.paged));
  if (config.run_contiguous) {
    out.set("static", server(r.static_batching));
    out.set("continuousContiguous", server(r.continuous_contiguous));
  }
  out.set("throughputGain", r.throughput_gain);
  out.set("concurrencyGain", r.concurrency_gain);
  out.set("pagingGain", r.paging_gain);
  return out;
}

val paged_snapshots(serving::serving_config config) {
  const auto snapshots = serving::snapshot_run(config);
  val out = val::array();
  for (const auto& s : snapshots) {
    val snap = val::object();
    snap.set("step", s.step);
    snap.set("owner", int_array(s.owner));
    snap.set("refcount", int_array(s.refcount));
    snap.set("filled", int_array(s.filled));
    val sequences = val::array();
    for (const auto& q : s.sequences) {
      val seq = val::object();
      seq.set("id", q.id);
      seq.set("length", q.length);
      seq.set("produced", q.produced);
      seq.set("output", q.output);
      seq.set("table", int_array(q.table));
      sequences.call<void>("push", seq);
    }
    snap.set("sequences", sequences);
    snap.set("waiting", int_array(s.waiting));
    snap.set("preemptions", s.preemptions);
    snap.set("slots", s.slots);
    out.call<void>("push", snap);
  }
  return out;
}

}  // namespace

EMSCRIPTEN_BINDINGS(memlab_paged) {
  wasm::object<serving::stream_config>("StreamConfig")
      .field("requests", &serving::stream_config::requests)
      .field("rate", &serving::stream_config::rate)
      .field("promptMean", &serving::stream_config::prompt_mean)
      .field("promptSigma", &serving::stream_config::prompt_sigma)
      .field("outputMean", &serving::stream_config::output_mean)
      .field("outputSigma", &serving::stream_config::output_sigma)
      .field("maxSeq", &serving::stream_config::max_seq)
      .field("sharedPrefix", &serving::stream_config::shared_prefix)
      .field("seed", &serving::stream_config::seed);
  wasm::object<serving::serving_config>("ServingConfig")
      .field("stream", &serving::serving_config::stream)
      .field("budget", &serving::serving_config::budget)
      .field("blockSize", &serving::serving_config::block_size)
      .field("maxBatch", &serving::serving_config::max_batch)
      .field("watermark", &serving::serving_config::watermark)
      .field("preemption", &serving::serving_config::preemption, {"recompute", "swap"})
      .field("kvBytesPerToken", &serving::serving_config::kv_bytes_per_token)
      .field("runContiguous", &serving::serving_config::run_contiguous)
      .field("check", &serving::serving_config::check);
  wasm::object<slot_figures>("SlotFigures")
      .field("allocated", &slot_figures::allocated)
      .field("used", &slot_figures::used)
      .field("reservation", &slot_figures::reservation)
      .field("fragmentation", &slot_figures::fragmentation)
      .field("idle", &slot_figures::idle)
      .field("blocks", &slot_figures::blocks)
      .field("sharedBlocks", &slot_figures::shared_blocks)
      .field("logicalBlocks", &slot_figures::logical_blocks);

  def<&run_serving>("runServing", "config", "points");
  def<&paged_snapshots>("pagedSnapshots", "config");
}
