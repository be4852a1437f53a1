// prelude.hpp — included first in every exercise's test program, natively
// (g++ -include prelude.hpp) and in the browser (clang++ -include-pch, a
// precompiled copy of this file built once with the page). Parsing doctest and
// the standard headers is most of a compile; in the browser the precompiled
// prelude cuts a run's compile time by more than half. Both sides include the
// same headers, so code that compiles in one compiles in the other.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "memlab_lab.hpp"
#include "memlab_test.hpp"
