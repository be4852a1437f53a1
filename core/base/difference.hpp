// base/difference.hpp — how far a result is from its reference, as experiments
// report it.
//
//   max_abs        max_i |x_i - exact_i|
//   rel_frobenius  |x - exact|_F / |exact|_F    (0 when both are 0)
//   nonfinite      how many x_i are NaN or ±inf; they are counted, not compared
//
// O(n), no allocation.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>

namespace memlab {

struct difference {
  double max_abs = 0;
  double rel_frobenius = 0;
  std::size_t nonfinite = 0;
};

// x[0..n) against exact[0..n) (any arithmetic types: float, double).
template <class X, class E>
difference difference_of(const X* x, const E* exact, std::size_t n) {
  difference d;
  double diff2 = 0, norm2 = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double xi = static_cast<double>(x[i]), ei = static_cast<double>(exact[i]);
    if (!std::isfinite(xi)) {
      ++d.nonfinite;
      continue;
    }
    d.max_abs = std::max(d.max_abs, std::abs(xi - ei));
    diff2 += (xi - ei) * (xi - ei);
    norm2 += ei * ei;
  }
  d.rel_frobenius = norm2 > 0 ? std::sqrt(diff2 / norm2) : (diff2 > 0 ? INFINITY : 0);
  return d;
}

}  // namespace memlab
