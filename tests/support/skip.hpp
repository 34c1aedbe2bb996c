#pragma once
// How a test that cannot run on this machine says so, so that ctest counts it as skipped (and
// shows why) instead of passed:
//
//   TEST_CASE("...") {
//     if (!is_root()) SVC_SKIP("needs root (real namespaces and cgroups)");
//     ...
//   }
//
// SVC_SKIP prints one line "SVC_SKIPPED: <reason>" on stdout and returns from the test case
// before it asserted anything. Every ctest registration of a test binary sets
// SKIP_REGULAR_EXPRESSION to that marker (tests/*/CMakeLists.txt, and
// tests/support/check_skip_properties.cmake fails the build's unit tests if one does not), so
// the test shows as "Skipped" in ctest's summary and the reason is in its output (ctest -V,
// Testing/Temporary/LastTest.log). Run the binary directly and the line is there too.
//
// Only for conditions of the machine (not root, no IA32 emulation, no cgroup2, a missing
// package): a broken product is a failure, never a skip. Skip before the first assertion: ctest
// marks the whole test skipped once the marker appears, whatever else it printed.
//
// Helpers that decide for a test (a fixture's usable(), need_root()) call report_skip() and
// return false; the test then returns.
#include <cstdio>
#include <sstream>
#include <string>

#define SVC_SKIP_MARKER "SVC_SKIPPED:"

namespace svc::test {

inline void report_skip(const std::string& reason) {
  // stdout, flushed at once: ctest reads the test's output, and a later crash must not eat it.
  std::fprintf(stdout, "%s %s\n", SVC_SKIP_MARKER, reason.c_str());
  std::fflush(stdout);
}

}  // namespace svc::test

// Reports the test as skipped with a reason (anything that streams: "no " << tool) and returns.
#define SVC_SKIP(reason)                              \
  do {                                                \
    std::ostringstream svc_skip_reason_;              \
    svc_skip_reason_ << reason;                       \
    ::svc::test::report_skip(svc_skip_reason_.str()); \
    return;                                           \
  } while (0)

// Most root tests need real sandboxes and cgroups: one line for them (is_root() is in
// tests/support/process.hpp).
#define SVC_SKIP_UNLESS_ROOT() \
  do {                         \
    if (!::svc::test::is_root()) SVC_SKIP("needs root (real sandboxes and cgroups)"); \
  } while (0)
