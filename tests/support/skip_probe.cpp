// A test binary with one case that skips and one that passes: check_skip_properties.cmake runs
// it through ctest with the project's skip marker and expects ctest to call it skipped, so the
// mechanism every integration test relies on (skip.hpp) is itself tested.
#include <catch2/catch.hpp>

#include "tests/support/skip.hpp"

TEST_CASE("skip probe: a test that cannot run here says so", "[skip-probe]") {
  SVC_SKIP("the probe always skips (" << 1 + 1 << " words of reason)");
  FAIL("SVC_SKIP did not return from the test case");
}

TEST_CASE("skip probe: a test that runs passes", "[skip-probe]") { CHECK(1 + 1 == 2); }
