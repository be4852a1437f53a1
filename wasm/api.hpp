// api.hpp — how a C++ function becomes part of the JS API, errors included.
//
// A bound function never lets a C++ exception escape into JS (in Emscripten
// 3.1.6 it would arrive as a bare number and skip the C++ frames' cleanup).
// `def<Fn>("name")` binds `guarded<Fn>::call`, which catches, keeps the message
// and returns normally; memlab.mjs then throws a JS Error with that message.
// Each area binds its functions in a file of its own (attention.cpp, ...).
//
// Integers from JS are checked, not converted: Embind hands a JS value to an int
// as ToInt32 does (1.5 -> 1, 2^32 + 1 -> 1, "2" -> 2), silently. A bound function
// takes such an argument as a `val` and reads it with `integer<I>(x, "name")`; a
// struct's integer members become checked fields when it is bound with
// `wasm::object<T>` instead of `value_object<T>`.
#pragma once

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "base/error.hpp"

namespace memlab::wasm {

void set_last_error(std::string message);
void add_api_name(const char* name);

// A field's conversion runs inside Embind's JS, before the call, where a C++
// exception must not escape: it leaves its error here, and the call reports it.
void set_argument_error(std::string message);
void throw_argument_error();  // the one left by a field, if any (and forgets it)

// A JS value as JS writes it, a string in quotes: 1.5, "8", undefined.
inline std::string js_text(const emscripten::val& x) {
  using emscripten::val;
  return x.isString() ? val::global("JSON").call<std::string>("stringify", x)
                      : val::global("String")(x).as<std::string>();
}

// A JS value as an integer of type I, or invalid_argument naming it:
// "layers = 1.5: expected an integer", "seed = -1: expected an integer in
// [0, 4294967295]", "tokens = "8": expected an integer".
template <class I>
I integer(const emscripten::val& x, const char* name) {
  using limits = std::numeric_limits<I>;
  static_assert(limits::digits <= 53, "every value of I must be a double");
  const double value = x.isNumber() ? x.as<double>() : NAN;
  if (std::trunc(value) != value)
    require(false, name, js_text(x), "an integer");  // also NaN, not a number
  if (value < static_cast<double>(limits::min()) || value > static_cast<double>(limits::max()))
    require(false, name, js_text(x), [] {
      return "an integer in [" + std::to_string(limits::min()) + ", " +
             std::to_string(limits::max()) + "]";
    });
  return static_cast<I>(value);
}

// A JS array of integers as a std::vector<I>, each element read with integer<I>()
// under the name "name[i]": "tokens[2] = 1.5: expected an integer".
template <class I>
std::vector<I> integers(const emscripten::val& array, const char* name) {
  using emscripten::val;
  if (!val::global("Array").call<bool>("isArray", array))
    require(false, name, js_text(array), "an array of integers");
  std::vector<I> out;
  const unsigned n = array["length"].as<unsigned>();
  for (unsigned i = 0; i < n; ++i)
    out.push_back(
        integer<I>(array[i], (std::string(name) + "[" + std::to_string(i) + "]").c_str()));
  return out;
}

// A std::vector of bound values (value_object types, numbers, strings) as a JS array.
template <class T>
emscripten::val array_of(const std::vector<T>& values) {
  emscripten::val out = emscripten::val::array();
  for (std::size_t i = 0; i < values.size(); ++i) out.call<void>("push", values[i]);
  return out;
}

// value_object<T> whose integer members are read with integer<I>() (a bad one
// fails the call with its message); every other member is bound as is.
template <class T>
class object : public emscripten::value_object<T> {
 public:
  using emscripten::value_object<T>::value_object;

  template <class M>
  object& field(const char* name, M T::*member) {
    if constexpr (std::is_integral_v<M> && !std::is_same_v<M, bool>) {
      std::function<double(const T&)> get = [member](const T& t) {
        return static_cast<double>(t.*member);
      };
      std::function<void(T&, emscripten::val)> set = [member, name](T& t, emscripten::val x) {
        try {
          t.*member = integer<M>(x, name);
        } catch (const std::exception& e) {
          set_argument_error(e.what());
        }
      };
      emscripten::value_object<T>::field(name, get, set);
    } else {
      emscripten::value_object<T>::field(name, member);
    }
    return *this;
  }
};

template <auto Fn>
struct guarded;

template <class R, class... Args, R (*Fn)(Args...)>
struct guarded<Fn> {
  static R call(Args... args) {
    try {
      throw_argument_error();
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
