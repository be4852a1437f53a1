// api.hpp — how a C++ function becomes part of the JS API, errors included.
//
// A bound function never lets a C++ exception escape into JS (in Emscripten
// 3.1.6 it would arrive as a bare number and skip the C++ frames' cleanup).
// `def<Fn>("name")` binds `guarded<Fn>::call`, which catches, keeps the message
// and returns normally; memlab.mjs then throws a JS Error with that message.
// Each area binds its functions in a file of its own (attention.cpp, ...).
#pragma once

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <exception>
#include <string>
#include <type_traits>

namespace memlab::wasm {

void set_last_error(std::string message);
void add_api_name(const char* name);

template <auto Fn>
struct guarded;

template <class R, class... Args, R (*Fn)(Args...)>
struct guarded<Fn> {
  static R call(Args... args) {
    try {
      return Fn(args...);
    } catch (const std::exception& e) {
      set_last_error(e.what());
    } catch (...) {
      set_last_error("unknown C++ exception");
    }
    if constexpr (std::is_same_v<R, emscripten::val>)
      return emscripten::val::undefined();
    else
      return R{};
  }
};

// Binds Fn as `name` in the module's API, errors guarded.
template <auto Fn>
void def(const char* name) {
  add_api_name(name);
  emscripten::function(name, &guarded<Fn>::call);
}

}  // namespace memlab::wasm
