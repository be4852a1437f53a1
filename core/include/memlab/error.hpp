// memlab/error.hpp — the one kind of error core raises for bad input.
//
// Every check names the argument, the value it got and what was expected:
//   "kv_heads = 3: expected a divisor of heads = 4"
// The bindings turn it into a JS Error with the same message.
#pragma once

#include <cstddef>
#include <sstream>
#include <stdexcept>
#include <string>

namespace memlab {

class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

// Throws invalid_argument("<name> = <value>: expected <expected>") unless ok.
template <class T>
void require(bool ok, const char* name, const T& value, const std::string& expected) {
  if (ok) return;
  std::ostringstream message;
  message << name << " = " << value << ": expected " << expected;
  throw invalid_argument(message.str());
}

// "<name> = <value>" as text, for expected-clauses that cite another argument.
template <class T>
std::string named(const char* name, const T& value) {
  std::ostringstream text;
  text << name << " = " << value;
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
