// base/error.hpp — the one kind of error core raises for bad input.
//
// Every check names the argument, the value it got and what was expected:
//   "kv_heads = 3: expected a divisor of heads = 4"
// The bindings turn it into a JS Error with the same message.
#pragma once

#include <cstddef>
#include <cstdio>
#include <ostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

namespace memlab {

class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {
// A value as a message shows it; text with its control characters escaped
// ("\x00"), so that a NUL from JS cannot cut the message short.
template <class T>
void show(std::ostream& out, const T& value) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    for (const char c : std::string_view(value)) {
      const auto byte = static_cast<unsigned char>(c);
      if (byte >= 0x20 && byte != 0x7f) {
        out << c;
        continue;
      }
      char escaped[5];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      out << escaped;
    }
  } else {
    out << value;
  }
}
}  // namespace detail

// Throws invalid_argument("<name> = <value>: expected <expected>") unless ok.
// `expected` is text, or a callable returning text: checks sit on hot paths, so
// a clause that has to be assembled is passed as a lambda and only built when
// the check fails:
//   require(h % g == 0, "kv_heads", g, [&] { return "a divisor of " + named("heads", h); });
// The same holds for a value that has to be assembled (a shape as text):
//   require(ok, "k.shape", [&] { return shape_text(k.shape()); }, "...");
template <class T, class Expected>
void require(bool ok, const char* name, const T& value, Expected&& expected) {
  if (ok) return;
  std::ostringstream message;
  message << name << " = ";
  if constexpr (std::is_invocable_v<const T&>)
    message << value();
  else
    detail::show(message, value);
  message << ": expected ";
  if constexpr (std::is_invocable_v<Expected>)
    message << expected();
  else
    message << expected;
  throw invalid_argument(message.str());
}

// "<name> = <value>" as text, for expected-clauses that cite another argument.
template <class T>
std::string named(const char* name, const T& value) {
  std::ostringstream text;
  text << name << " = ";
  detail::show(text, value);
  return text.str();
}

// A shape as text: "[2, 5, 8]".
template <class Shape>
std::string shape_text(const Shape& shape) {
  std::ostringstream text;
  text << '[';
  const char* separator = "";
  for (const auto extent : shape) text << separator << extent, separator = ", ";
  text << ']';
  return text.str();
}

// A size given as a signed integer (from a command line or from JS), checked to
// be positive, so that -1 is reported as -1 and not wrapped to 4294967295.
inline std::size_t require_positive(long long value, const char* name) {
  require(value > 0, name, value, "a positive integer");
  return static_cast<std::size_t>(value);
}

}  // namespace memlab
