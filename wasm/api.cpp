// api.cpp — the error channel, the descriptions of the API's functions and
// types (apiSchema), and the memory figures: the tracker's and the wasm heap's.
#include "api.hpp"

#include <malloc.h>

#include <map>

#include "base/limits.hpp"
#include "base/measure.hpp"
#include "base/memory.hpp"

namespace memlab::wasm {
namespace {

std::string last_error;

struct object_schema {
  std::string name;
  std::vector<std::pair<std::string, spec>> fields;
};

struct registry {
  std::vector<std::pair<std::string, std::vector<std::pair<std::string, spec>>>> functions;
  std::map<std::type_index, object_schema> objects;
};

registry& schema() {
  static registry r;  // built while the bindings register
  return r;
}

// Called by memlab.mjs after every call.
std::string take_last_error() {
  std::string message;
  message.swap(last_error);
  return message;
}

emscripten::val strings(const std::vector<std::string>& list) {
  emscripten::val out = emscripten::val::array();
  for (const auto& s : list) out.call<void>("push", s);
  return out;
}

emscripten::val to_js(const std::string& name, const spec& s) {
  emscripten::val out = emscripten::val::object();
  out.set("name", name);
  out.set("kind", s.kind);
  if (s.kind == "integer" || s.kind == "integer_array") {
    out.set("min", s.min);
    out.set("max", s.max);
  }
  if (!s.values.empty()) out.set("values", strings(s.values));
  if (!s.length.empty()) out.set("length", strings(s.length));
  if (s.kind == "object") {
    const auto found = schema().objects.find(s.type);
    // A struct parameter never bound with wasm::object: Embind refuses it too.
    out.set("type", found == schema().objects.end() ? std::string("?") : found->second.name);
  }
  return out;
}

emscripten::val list(const std::vector<std::pair<std::string, spec>>& specs) {
  emscripten::val out = emscripten::val::array();
  for (const auto& [name, s] : specs) out.call<void>("push", to_js(name, s));
  return out;
}

// {functions: {name: [param, ...]}, objects: {Type: [field, ...]}, limits: {...}}
emscripten::val api_schema() {
  emscripten::val functions = emscripten::val::object(), objects = emscripten::val::object();
  for (const auto& [name, params] : schema().functions) functions.set(name, list(params));
  for (const auto& [type, o] : schema().objects) objects.set(o.name, list(o.fields));
  emscripten::val limits = emscripten::val::object();
  limits.set("callBytes", static_cast<double>(memlab::limits::call_bytes));
  limits.set("callWork", memlab::limits::call_work);
  limits.set("repeats", memlab::limits::repeats);
  emscripten::val out = emscripten::val::object();
  out.set("functions", functions);
  out.set("objects", objects);
  out.set("limits", limits);
  return out;
}

memory::stats memory_stats() { return memory::tracker().current(); }

// Bytes of the wasm heap in use (malloc's, whatever allocated them): what a
// leak on an error path would leave behind.
double heap_bytes() { return static_cast<double>(mallinfo().uordblks); }

}  // namespace

void set_last_error(std::string message) { last_error = std::move(message); }

arg float32_array(const char* name, std::vector<std::string> length) {
  spec s;
  s.kind = "float32_array";
  s.length = std::move(length);
  return {name, std::move(s)};
}

arg uint8_array(const char* name) {
  spec s;
  s.kind = "uint8_array";
  return {name, std::move(s)};
}

arg integer_array(const char* name, double min, double max) {
  spec s;
  s.kind = "integer_array";
  s.min = min;
  s.max = max;
  return {name, std::move(s)};
}

arg any_number(const char* name) {
  spec s;
  s.kind = "any_number";
  return {name, std::move(s)};
}

arg callback(const char* name) {
  spec s;
  s.kind = "function";
  return {name, std::move(s)};
}

arg one_of(const char* name, std::vector<std::string> values) {
  spec s;
  s.kind = "string";
  s.values = std::move(values);
  return {name, std::move(s)};
}

void add_function(const char* name, std::vector<std::pair<std::string, spec>> params) {
  schema().functions.emplace_back(name, std::move(params));
}

void add_object(std::type_index type, const char* name) { schema().objects[type].name = name; }

void add_field(std::type_index type, const char* name, spec js) {
  schema().objects[type].fields.emplace_back(name, std::move(js));
}

}  // namespace memlab::wasm

EMSCRIPTEN_BINDINGS(memlab_api) {
  using namespace emscripten;
  using namespace memlab;
  // The module's own plumbing, called by memlab.mjs (not part of the API).
  function("takeLastError", &wasm::take_last_error);
  function("apiSchema", &wasm::api_schema);

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
  wasm::def<&wasm::heap_bytes>("heapBytes");
}
