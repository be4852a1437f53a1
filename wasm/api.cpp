// api.cpp — the error channel and the list of API functions memlab.mjs wraps,
// plus the memory tracker's figures.
#include "api.hpp"

#include <vector>

#include "base/measure.hpp"
#include "base/memory.hpp"

namespace memlab::wasm {
namespace {

std::string last_error;
std::string argument_error;

std::vector<std::string>& api_names() {
  static std::vector<std::string> names;  // built while the bindings register
  return names;
}

// Called by memlab.mjs after every call, also one that Embind's JS failed midway
// (say, a missing field after a bad integer): the field's error goes with it.
std::string take_last_error() {
  argument_error.clear();
  std::string message;
  message.swap(last_error);
  return message;
}

emscripten::val api_functions() {
  emscripten::val names = emscripten::val::array();
  for (const auto& name : api_names()) names.call<void>("push", name);
  return names;
}

memory::stats memory_stats() { return memory::tracker().current(); }

}  // namespace

void set_last_error(std::string message) { last_error = std::move(message); }

void set_argument_error(std::string message) {
  if (argument_error.empty()) argument_error = std::move(message);  // the first one
}

void throw_argument_error() {
  if (argument_error.empty()) return;
  std::string message;
  message.swap(argument_error);
  throw invalid_argument(message);
}

void add_api_name(const char* name) { api_names().push_back(name); }

}  // namespace memlab::wasm

EMSCRIPTEN_BINDINGS(memlab_api) {
  using namespace emscripten;
  using namespace memlab;
  function("takeLastError", &wasm::take_last_error);
  function("apiFunctions", &wasm::api_functions);

  wasm::object<memory::stats>("MemoryStats")
      .field("liveBytes", &memory::stats::live_bytes)
      .field("peakBytes", &memory::stats::peak_bytes)
      .field("allocations", &memory::stats::allocations)
      .field("deallocations", &memory::stats::deallocations);
  wasm::object<run_figures>("RunFigures")
      .field("ran", &run_figures::ran)
      .field("medianMs", &run_figures::median_ms)
      .field("peakBytes", &run_figures::peak_bytes)
      .field("gflops", &run_figures::gflops);
  wasm::def<&wasm::memory_stats>("memoryStats");
}
