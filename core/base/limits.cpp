#include "base/limits.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <stdexcept>

#include "base/error.hpp"

namespace memlab {
namespace {

std::string sizes_text(std::initializer_list<sized> sizes) {
  std::string text;
  for (const sized& s : sizes) text += (text.empty() ? "" : ", ") + named(s.name, s.value);
  return text;
}

std::string work_text(double work) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2g", work);
  return text;
}

[[noreturn]] void refuse(std::initializer_list<sized> sizes, const std::string& expected) {
  throw invalid_argument(sizes_text(sizes) + ": expected " + expected);
}

}  // namespace

std::size_t count::size() const {
  if (n_ > std::numeric_limits<std::size_t>::max())
    throw std::length_error("memlab::count " + std::to_string(n_) + " does not fit in size_t");
  return static_cast<std::size_t>(n_);
}

std::string bytes_text(count bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  double x = bytes.as_double();
  int u = 0;
  while (x >= 1024 && u < 6) x /= 1024, ++u;
  // Three significant digits: "1.00 GiB", "1.01 GiB", "128 GiB".
  char text[32];
  std::snprintf(text, sizeof text,
                u == 0 || x >= 100 ? "%.0f %s"
                : x >= 10          ? "%.1f %s"
                                   : "%.2f %s",
                x, units[u]);
  return text;
}

void require_bytes(count bytes, std::initializer_list<sized> sizes, const char* what) {
  if (bytes <= count(limits::call_bytes)) return;
  refuse(sizes, "at most " + bytes_text(limits::call_bytes) + " held by one call (" + what + ": " +
                    bytes_text(bytes) + ")");
}

void require_work(double work, std::initializer_list<sized> sizes, const char* what) {
  if (work <= limits::call_work) return;  // also false for NaN: refused
  refuse(sizes, "at most " + work_text(limits::call_work) + " flops of work in one call (" + what +
                    ": " + work_text(work) + ")");
}

void require_repeats(long long repeats, const char* name) {
  require(repeats >= 1 && repeats <= limits::repeats, name, repeats,
          [] { return "an integer in [1, " + std::to_string(limits::repeats) + "]"; });
}

void require_finite(const float* x, std::size_t n, const char* name) {
  for (std::size_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i]))
      require(false, (std::string(name) + "[" + std::to_string(i) + "]").c_str(), x[i],
              "a finite value");
}

void require_finite(double x, const char* name) {
  require(std::isfinite(x), name, x, "a finite number");
}

}  // namespace memlab
