#include <catch2/catch.hpp>

#include "common/units.hpp"

using namespace svc;
using namespace std::chrono_literals;

TEST_CASE("sizes parse in binary and decimal units", "[units]") {
  CHECK(parse_size("0").value() == 0);
  CHECK(parse_size("123").value() == 123);
  CHECK(parse_size("256Mi").value() == 256ULL << 20);
  CHECK(parse_size("256MiB").value() == 256ULL << 20);
  CHECK(parse_size("1G").value() == 1'000'000'000ULL);
  CHECK(parse_size("1GB").value() == 1'000'000'000ULL);
  CHECK(parse_size("1Gi").value() == 1ULL << 30);
  CHECK(parse_size("1.5Gi").value() == 3ULL << 29);
  CHECK(parse_size("2k").value() == 2000);
  CHECK(parse_size("2Ki").value() == 2048);
  CHECK(parse_size(" 4Ki ").value() == 4096);
  CHECK(parse_size("0.1Ki").value() == 103);  // rounded up to a whole byte
}

TEST_CASE("a lowercase b (bits) and Docker's lowercase units are refused, saying what to write",
          "[units]") {
  auto bits = parse_size("10Gb");
  REQUIRE_FALSE(bits);
  CHECK_THAT(bits.error().message(), Catch::Contains("\"10Gb\""));
  CHECK_THAT(bits.error().message(), Catch::Contains("bits"));
  CHECK_THAT(bits.error().message(), Catch::Contains("10GB "));
  CHECK_THAT(bits.error().message(), Catch::Contains("10Gi"));
  CHECK_FALSE(parse_size("256Mib"));
  CHECK_FALSE(parse_size("100b"));
  auto docker = parse_size("512m");
  REQUIRE_FALSE(docker);
  CHECK_THAT(docker.error().message(), Catch::Contains("512Mi"));
  CHECK_THAT(docker.error().message(), Catch::Contains("512M "));
  CHECK_FALSE(parse_size("2g"));
  CHECK(parse_size("10GB").value() == 10'000'000'000ULL);  // B is a byte: still understood
  CHECK(parse_size("2kB").value() == 2000);
}

TEST_CASE("bad sizes are errors that quote the input", "[units]") {
  for (const char* bad :
       {"", "-1", "Mi", "12Q", "1.5", "1..5Mi", "1.Mi", "abc", "99999999999999999999", "20Ei"}) {
    auto r = parse_size(bad);
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().code() == Code::kInvalidArgument);
    CHECK(r.error().message().find(fmt::format("\"{}\"", bad)) != std::string::npos);
  }
  CHECK(parse_size("12Q").error().message().find("unknown unit \"Q\"") != std::string::npos);
}

TEST_CASE("sizes print back", "[units]") {
  CHECK(format_size(256ULL << 20) == "256Mi");
  CHECK(format_size(1ULL << 30) == "1Gi");
  CHECK(format_size(1000) == "1000");
  CHECK(format_size(0) == "0");
  CHECK(parse_size(format_size(3ULL << 29)).value() == 3ULL << 29);
  CHECK(format_size_human(25'275'224'064ULL) == "23.5Gi");
  CHECK(format_size_human(512ULL << 20) == "512Mi");
  CHECK(format_size_human(980) == "980B");
}

TEST_CASE("CPU amounts parse as millicores", "[units]") {
  CHECK(parse_cpu_millis("0.25").value() == 250);
  CHECK(parse_cpu_millis("250m").value() == 250);
  CHECK(parse_cpu_millis("2").value() == 2000);
  CHECK(parse_cpu_millis("1.5").value() == 1500);
  CHECK(parse_cpu_millis("0.001").value() == 1);
  CHECK(parse_cpu_millis("0", true).value() == 0);
  CHECK(format_cpu_millis(250) == "0.25");
  CHECK(format_cpu_millis(2000) == "2");
  CHECK(format_cpu_millis(1500) == "1.5");
}

TEST_CASE("bad CPU amounts are errors", "[units]") {
  for (const char* bad :
       {"", "-1", "0", "0m", "0.0001", "1.5m", "2 cores", "1e3", "m", "2000000000"}) {
    auto r = parse_cpu_millis(bad);
    INFO(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find(fmt::format("\"{}\"", bad)) != std::string::npos);
  }
}

TEST_CASE("durations parse", "[units]") {
  CHECK(parse_duration("90s").value() == 90s);
  CHECK(parse_duration("5m").value() == 5min);
  CHECK(parse_duration("1h30m").value() == 90min);
  CHECK(parse_duration("250ms").value() == 250ms);
  CHECK(parse_duration("1.5s").value() == 1500ms);
  CHECK(parse_duration("2d").value() == 48h);
  CHECK(parse_duration("0").value() == 0ms);
  CHECK(format_duration(90s) == "1m30s");
  CHECK(format_duration(250ms) == "250ms");
  CHECK(format_duration(1500ms) == "1.5s");
  CHECK(format_duration(0ms) == "0s");
  CHECK(parse_duration(format_duration(3723004ms)).value() == 3723004ms);
}

TEST_CASE("bad durations are errors that say what is wrong", "[units]") {
  CHECK(parse_duration("90").error().message().find("missing unit") != std::string::npos);
  CHECK(parse_duration("5x").error().message().find("unknown unit \"x\"") != std::string::npos);
  CHECK(parse_duration("-5s").error().message().find("negative") != std::string::npos);
  CHECK_FALSE(parse_duration(""));
  CHECK_FALSE(parse_duration("s"));
  CHECK_FALSE(parse_duration("1h 30m"));
  CHECK_FALSE(parse_duration("999999999999999d"));
}
