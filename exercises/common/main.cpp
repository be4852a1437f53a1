// main.cpp — the one other translation unit of every exercise's test program.
//
// It holds what does not change while a learner edits: doctest's implementation
// and main(), the global operator new/delete that count heap bytes for
// lab::heap(), and a "memlab" reporter that prints one JSON object per line (the
// page reads it). Natively it is a static library; for the browser it is compiled
// once, when the page is built, so a run compiles only test.cpp (which includes
// exercise.cpp).
//
//   ./test                    doctest's console report (what graders read)
//   ./test --reporters=memlab JSON lines: {"event":"start"|"assert"|"end"|"summary", ...}
//   ./test --memlab-bench     the test.cpp's MEMLAB_BENCHMARK instead of the tests:
//                             {"event":"bench", ...} per size (memlab_test.hpp)
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <new>
#include <sstream>
#include <string>

#include "memlab_lab.hpp"
#include "memlab_test.hpp"

// ---- counting operator new / delete ----------------------------------------------
// Each block carries a header in front of the pointer handed out, holding the
// malloc'ed address and the size, so that every form of delete (sized or not,
// aligned or not) subtracts exactly what its new added.

namespace {

lab::heap_stats counters{0, 0, 0};

struct header {
  void* raw;
  std::size_t bytes;
};

void* counted_new(std::size_t bytes, std::size_t alignment) noexcept {
  if (alignment < alignof(std::max_align_t)) alignment = alignof(std::max_align_t);
  // room for the header, rounded up so the user pointer keeps the alignment
  const std::size_t front = (sizeof(header) + alignment - 1) / alignment * alignment;
  void* raw = std::malloc(front + bytes + (alignment > alignof(std::max_align_t) ? alignment : 0));
  if (raw == nullptr) return nullptr;
  auto address = reinterpret_cast<std::uintptr_t>(raw) + front;
  address = (address + alignment - 1) / alignment * alignment;
  auto* h = reinterpret_cast<header*>(address) - 1;
  h->raw = raw;
  h->bytes = bytes;
  counters.live_bytes += bytes;
  counters.allocations += 1;
  if (counters.live_bytes > counters.peak_bytes) counters.peak_bytes = counters.live_bytes;
  return reinterpret_cast<void*>(address);
}

void* counted_new_or_fail(std::size_t bytes, std::size_t alignment) {
  if (void* p = counted_new(bytes, alignment)) return p;
  // -fno-exceptions: no std::bad_alloc to throw. Say so and stop.
  std::fprintf(stderr, "memlab: out of memory allocating %zu bytes\n", bytes);
  std::abort();
}

void counted_delete(void* p) noexcept {
  if (p == nullptr) return;
  const header* h = static_cast<header*>(p) - 1;
  counters.live_bytes -= h->bytes;
  std::free(h->raw);
}

}  // namespace

void* operator new(std::size_t n) { return counted_new_or_fail(n, 0); }
void* operator new[](std::size_t n) { return counted_new_or_fail(n, 0); }
void* operator new(std::size_t n, std::align_val_t a) {
  return counted_new_or_fail(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a) {
  return counted_new_or_fail(n, static_cast<std::size_t>(a));
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n, 0); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return counted_new(n, 0); }
void* operator new(std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_new(n, static_cast<std::size_t>(a));
}
void* operator new[](std::size_t n, std::align_val_t a, const std::nothrow_t&) noexcept {
  return counted_new(n, static_cast<std::size_t>(a));
}
void operator delete(void* p) noexcept { counted_delete(p); }
void operator delete[](void* p) noexcept { counted_delete(p); }
void operator delete(void* p, std::size_t) noexcept { counted_delete(p); }
void operator delete[](void* p, std::size_t) noexcept { counted_delete(p); }
void operator delete(void* p, std::align_val_t) noexcept { counted_delete(p); }
void operator delete[](void* p, std::align_val_t) noexcept { counted_delete(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { counted_delete(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { counted_delete(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { counted_delete(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { counted_delete(p); }
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  counted_delete(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  counted_delete(p);
}

namespace lab {
heap_stats heap() { return counters; }
void reset_heap_peak() { counters.peak_bytes = counters.live_bytes; }
void set_heap_peak(std::size_t bytes) { counters.peak_bytes = bytes; }
}  // namespace lab

// ---- the "memlab" reporter: JSON lines for the page ------------------------------
// One object per line, flushed at once, so that when a test traps or runs away
// the page still knows which test case was running:
//   {"event":"start","name":...,"line":N}
//   {"event":"assert","name":...,"file":...,"line":N,"expr":...,"values":...,"context":[...]}
//   {"event":"message","name":...,"file":...,"line":N,"text":...,"context":[...]}
//   {"event":"end","name":...,"passed":bool,"asserts":N,"failed":N,"ms":X}
//   {"event":"summary","cases":N,"failedCases":N,"asserts":N,"failedAsserts":N}

namespace {

std::string json(const char* text) {
  std::string out = "\"";
  for (const char* c = text; *c != '\0'; ++c) {
    const auto u = static_cast<unsigned char>(*c);
    switch (*c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          out += buf;
        } else {
          out += *c;
        }
    }
  }
  return out + "\"";
}

std::string json(const doctest::String& s) { return json(s.c_str()); }

struct memlab_reporter : doctest::IReporter {
  const doctest::TestCaseData* current = nullptr;

  explicit memlab_reporter(const doctest::ContextOptions&) {}

  static void emit(const std::string& line) {
    std::fputs(line.c_str(), stdout);
    std::fputc('\n', stdout);
    std::fflush(stdout);
  }

  // The INFO / CAPTURE / CHECK_MESSAGE texts active at an assertion.
  static std::string contexts() {
    std::string out = "[";
    const int n = doctest::IReporter::get_num_active_contexts();
    const doctest::IContextScope* const* scopes = doctest::IReporter::get_active_contexts();
    for (int i = 0; i < n; ++i) {
      std::ostringstream text;
      scopes[i]->stringify(&text);
      if (i > 0) out += ",";
      out += json(text.str().c_str());
    }
    return out + "]";
  }

  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& s) override {
    emit("{\"event\":\"summary\",\"cases\":" + std::to_string(s.numTestCasesPassingFilters) +
         ",\"failedCases\":" + std::to_string(s.numTestCasesFailed) +
         ",\"asserts\":" + std::to_string(s.numAsserts) +
         ",\"failedAsserts\":" + std::to_string(s.numAssertsFailed) + "}");
  }
  void test_case_start(const doctest::TestCaseData& t) override {
    current = &t;
    emit("{\"event\":\"start\",\"name\":" + json(t.m_name) +
         ",\"line\":" + std::to_string(t.m_line) + "}");
  }
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats& s) override {
    std::ostringstream ms;
    ms << s.seconds * 1000;
    emit("{\"event\":\"end\",\"name\":" + json(current->m_name) +
         ",\"passed\":" + (s.testCaseSuccess ? "true" : "false") +
         ",\"asserts\":" + std::to_string(s.numAssertsCurrentTest) + ",\"failed\":" +
         std::to_string(s.numAssertsFailedCurrentTest) + ",\"ms\":" + ms.str() + "}");
  }
  void test_case_exception(const doctest::TestCaseException& e) override {
    emit("{\"event\":\"message\",\"name\":" + json(current->m_name) +
         ",\"file\":\"\",\"line\":0,\"text\":" + json(e.error_string) + ",\"context\":[]}");
  }
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData& a) override {
    if (!a.m_failed) return;
    emit("{\"event\":\"assert\",\"name\":" + json(current->m_name) + ",\"file\":" + json(a.m_file) +
         ",\"line\":" + std::to_string(a.m_line) + ",\"expr\":" +
         json(std::string(doctest::assertString(a.m_at))
                  .append("( ")
                  .append(a.m_expr)
                  .append(" )")
                  .c_str()) +
         ",\"values\":" + json(a.m_decomp) + ",\"context\":" + contexts() + "}");
  }
  void log_message(const doctest::MessageData& m) override {
    emit("{\"event\":\"message\",\"name\":" + json(current->m_name) +
         ",\"file\":" + json(m.m_file) + ",\"line\":" + std::to_string(m.m_line) +
         ",\"text\":" + json(m.m_string) + ",\"context\":" + contexts() + "}");
  }
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

}  // namespace

REGISTER_REPORTER("memlab", 1, memlab_reporter);

// ---- benchmarks ---------------------------------------------------------------------

namespace {

struct benchmark {
  const char* name = nullptr;
  const char* axis = nullptr;
  std::vector<std::size_t> sizes;
  void (*run)(std::size_t) = nullptr;
};

benchmark& registered() {
  static benchmark b;  // at most one per test program
  return b;
}

int run_benchmark() {
  const benchmark& b = registered();
  if (b.run == nullptr) {
    std::fputs("{\"event\":\"bench-none\"}\n", stdout);
    return 0;
  }
  for (std::size_t i = 0; i < b.sizes.size(); ++i) {
    memlab_reporter::emit("{\"event\":\"bench-start\",\"name\":" + json(b.name) +
                          ",\"axis\":" + json(b.axis) + ",\"n\":" + std::to_string(b.sizes[i]) +
                          ",\"index\":" + std::to_string(i) +
                          ",\"count\":" + std::to_string(b.sizes.size()) + "}");
    b.run(b.sizes[i]);
  }
  return 0;
}

}  // namespace

namespace lab::bench {

registrar::registrar(const char* name, const char* axis, std::vector<std::size_t> sizes,
                     void (*run)(std::size_t)) {
  registered() = {name, axis, std::move(sizes), run};
}

void report(std::size_t n, const point& p) {
  std::ostringstream ms;
  ms << p.median_ms;
  const benchmark& b = registered();
  memlab_reporter::emit("{\"event\":\"bench\",\"name\":" + json(b.name ? b.name : "") +
                        ",\"axis\":" + json(b.axis ? b.axis : "") + ",\"n\":" + std::to_string(n) +
                        ",\"ms\":" + ms.str() + ",\"peakBytes\":" + std::to_string(p.peak_bytes) +
                        "}");
}

}  // namespace lab::bench

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--memlab-bench") return run_benchmark();
  doctest::Context context;
  context.applyCommandLine(argc, argv);
  return context.run();
}
