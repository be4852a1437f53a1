// api.hpp — how a C++ function becomes part of the JS API: its arguments
// described, its errors caught. (wasm/README.md shows a binding end to end.)
//
// Every bound function is declared once, next to its Embind registration, with
// one description per parameter:
//
//   def<&run_attention>("runAttention", "config");
//   def<&flash_attention>("flashAttention",
//       float32_array("q", {"shape.heads", "shape.seqQ", "shape.headDim"}), ...,
//       "shape", "causal", "blockQ", "blockKv");
//
// A plain name takes its JS type from the C++ parameter: an integer type is an
// integer in that type's range, float/double a finite number, bool a boolean,
// std::string a string, a struct bound with wasm::object<T> an object with
// exactly T's fields (each typed the same way from its member). An
// emscripten::val parameter has no type of its own: its description says what
// it holds (float32_array, uint8_array, integer_array, callback); one_of
// narrows a string to a list. memlab.mjs checks every call against these
// descriptions before Embind converts anything, so that Embind's own conversion
// (which truncates 1.5 to 1, reads "12" as 12 and null as 0, and leaks what it
// converted so far when a later argument fails) only ever sees values it
// converts exactly. apiSchema() hands the descriptions to JS; the JS-API fuzzer
// (wasm/test/fuzz.test.mjs) draws its calls from them.
//
// A bound function never lets a C++ exception escape into JS (in Emscripten
// 3.1.6 it would arrive as a bare number and skip the C++ frames' cleanup):
// `def` binds `guarded<Fn>::call`, which catches, keeps the message and returns
// normally; memlab.mjs then throws a JS Error with that message. A JS callback
// reaches C++ wrapped by memlab.mjs so that it never throws either (see
// callback_of).
#pragma once

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <exception>
#include <functional>
#include <limits>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeindex>
#include <utility>
#include <vector>

namespace memlab::wasm {

void set_last_error(std::string message);

// What a JS value must be. kind: "integer" (in [min, max]), "number" (finite;
// "any_number": NaN and ±Infinity too),
// "boolean", "string" (one of `values`, unless empty), "object" (the fields of
// the wasm::object registered for `type`), "float32_array" / "uint8_array"
// (of length the product of the `length` paths, unless empty),
// "integer_array" (a JS Array of integers in [min, max]), "function" (a
// callback, or undefined), "any" (output-only members).
struct spec {
  std::string kind;
  double min = 0, max = 0;
  std::vector<std::string> values;
  std::vector<std::string> length;
  std::type_index type = typeid(void);
};

// The spec a C++ type gives its JS value.
template <class T>
spec spec_of() {
  using U = std::decay_t<T>;
  spec s;
  if constexpr (std::is_same_v<U, bool>) {
    s.kind = "boolean";
  } else if constexpr (std::is_integral_v<U>) {
    static_assert(std::numeric_limits<U>::digits <= 53, "every value must be a JS number");
    s.kind = "integer";
    s.min = static_cast<double>(std::numeric_limits<U>::min());
    s.max = static_cast<double>(std::numeric_limits<U>::max());
  } else if constexpr (std::is_floating_point_v<U>) {
    s.kind = "number";
  } else if constexpr (std::is_same_v<U, std::string>) {
    s.kind = "string";
  } else if constexpr (std::is_same_v<U, emscripten::val>) {
    s.kind = "any";
  } else {
    s.kind = "object";
    s.type = typeid(U);
  }
  return s;
}

// One parameter's description: a name (its type from C++), or one of the
// functions below.
struct arg {
  arg(const char* name) : name(name) {}  // NOLINT: implicit, a plain name
  arg(std::string name, spec js) : name(std::move(name)), js(std::move(js)), described(true) {}
  std::string name;
  spec js;
  bool described = false;
};

// A Float32Array; its length the product of the named values ("shape.heads"
// is the field heads of the argument shape), or any length.
arg float32_array(const char* name, std::vector<std::string> length = {});
// A Uint8Array of any length.
arg uint8_array(const char* name);
// A JS Array of integers in [min, max].
arg integer_array(const char* name, double min, double max);
// A number that may also be NaN or ±Infinity (a plain double parameter must be
// finite): for functions about those values, such as rounding to a format.
arg any_number(const char* name);
// A function, or undefined for none; read it with callback_of.
arg callback(const char* name);
// A string that must be one of `values`.
arg one_of(const char* name, std::vector<std::string> values);

// Registers a bound function's parameters and an object type's fields for
// apiSchema().
void add_function(const char* name, std::vector<std::pair<std::string, spec>> params);
void add_object(std::type_index type, const char* name);
void add_field(std::type_index type, const char* name, spec js);

// value_object<T> whose fields are also described for JS (see spec_of); a
// string field may be narrowed to a list of values, a val field is described
// as a parameter would be.

// After schema.mjs checked them: a JS Array of integers (described with
// integer_array) as a std::vector<I>, and a std::vector of bound values
// (value_object types, numbers, strings) as a JS array.
template <class I>
std::vector<I> integers(const emscripten::val& array) {
  return emscripten::convertJSArrayToNumberVector<I>(array);
}
template <class T>
emscripten::val array_of(const std::vector<T>& values) {
  emscripten::val out = emscripten::val::array();
  for (std::size_t i = 0; i < values.size(); ++i) out.call<void>("push", values[i]);
  return out;
}

template <class T>
class object : public emscripten::value_object<T> {
 public:
  explicit object(const char* name) : emscripten::value_object<T>(name) {
    add_object(typeid(T), name);
  }

  template <class M>
  object& field(const char* name, M T::*member, std::vector<std::string> values = {}) {
    spec s = spec_of<M>();
    s.values = std::move(values);
    add_field(typeid(T), name, std::move(s));
    emscripten::value_object<T>::field(name, member);
    return *this;
  }
  // A std::vector of integers (a core config's list): a JS Array of integers in
  // I's range, copied in and out.
  template <class I, class = std::enable_if_t<std::is_integral_v<I>>>
  object& field(const char* name, std::vector<I> T::*member) {
    spec s = spec_of<I>();
    s.kind = "integer_array";
    add_field(typeid(T), name, std::move(s));
    emscripten::value_object<T>::field(
        name, std::function<emscripten::val(const T&)>([member](const T& t) {
          return array_of(t.*member);
        }),
        std::function<void(T&, emscripten::val)>(
            [member](T& t, emscripten::val v) { t.*member = integers<I>(v); }));
    return *this;
  }
  // A member of type emscripten::val, described: .field("buckets", &T::buckets,
  // integer_array("buckets", 1, 65536)).
  object& field(const char* name, emscripten::val T::*member, const arg& described) {
    add_field(typeid(T), name, described.js);
    emscripten::value_object<T>::field(name, member);
    return *this;
  }
};

// A JS callback as a C++ function. memlab.mjs passes each callback wrapped: the
// wrapper calls it, returns false once it has thrown (keeping the JS error, to
// throw after the call) and true otherwise. On false the C++ side throws
// callback_failed, which unwinds the C++ frames as any C++ error does; an
// empty function stands for undefined.
struct callback_failed : std::exception {
  const char* what() const noexcept override { return "a JS callback threw"; }
};

template <class... A>
std::function<void(A...)> callback_of(const emscripten::val& fn) {
  if (fn.isUndefined() || fn.isNull()) return {};
  return [fn](A... a) {
    if (fn(a...).isFalse()) throw callback_failed();
  };
}

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

namespace detail {

template <class F>
struct parameters;
template <class R, class... P>
struct parameters<R (*)(P...)> {
  using types = std::tuple<std::decay_t<P>...>;
};

template <class P>
std::pair<std::string, spec> describe(const arg& a) {
  if (a.described) return {a.name, a.js};
  return {a.name, spec_of<P>()};
}

template <class P, class A>
constexpr bool describes() {
  // A val parameter needs a description of what it holds.
  return !std::is_same_v<P, emscripten::val> || std::is_same_v<std::decay_t<A>, arg>;
}

template <class Params, class... A, std::size_t... I>
std::vector<std::pair<std::string, spec>> describe_all(std::index_sequence<I...>, const A&... a) {
  static_assert((describes<std::tuple_element_t<I, Params>, A>() && ...),
                "an emscripten::val parameter is declared with float32_array(...), "
                "uint8_array(...), integer_array(...) or callback(...), not a plain name");
  return {describe<std::tuple_element_t<I, Params>>(arg(a))...};
}

}  // namespace detail

// Binds Fn as `name`, errors guarded, with one description per parameter.
template <auto Fn, class... A>
void def(const char* name, const A&... args) {
  using params = typename detail::parameters<decltype(Fn)>::types;
  static_assert(sizeof...(A) == std::tuple_size_v<params>,
                "def<Fn>(name, ...): one description (a name, or float32_array(...), ...) per "
                "parameter of Fn");
  add_function(name, detail::describe_all<params>(std::index_sequence_for<A...>{}, args...));
  emscripten::function(name, &guarded<Fn>::call);
}

}  // namespace memlab::wasm
