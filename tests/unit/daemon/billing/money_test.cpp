#include <catch2/catch.hpp>

#include "daemon/billing/money.hpp"
#include "daemon/billing/usage_record.hpp"

using namespace svc;
using namespace svc::billing;

TEST_CASE("prices parse to exact nano-units", "[billing][money]") {
  CHECK(parse_price("0.0000113").value() == 11'300);
  CHECK(parse_price("0.0000012").value() == 1'200);
  CHECK(parse_price("0.40").value() == 400'000'000);
  CHECK(parse_price("1").value() == 1'000'000'000);
  CHECK(parse_price("12.5").value() == 12'500'000'000);
  CHECK(parse_price("0").value() == 0);
  CHECK(parse_price(".5").value() == 500'000'000);
  CHECK(parse_price("0.000000001").value() == 1);
  CHECK(parse_price("0.0000113000000").value() == 11'300);  // zeros past nano-units are fine
  for (const char* bad :
       {"", "-1", "1.2.3", "abc", "0.0000000001", "1e-5", " 1", ".", "1,5", "999999999999"}) {
    INFO(bad);
    auto r = parse_price(bad);
    REQUIRE_FALSE(r);
    CHECK(r.error().message().find(std::string("\"") + bad + "\"") != std::string::npos);
  }
}

TEST_CASE("prices from TOML floats are exact when they have at most 9 decimals",
          "[billing][money]") {
  CHECK(price_from_number(0.0000113).value() == 11'300);
  CHECK(price_from_number(0.0000012).value() == 1'200);
  CHECK(price_from_number(0.1 + 0.2).value() == 300'000'000);
  CHECK(price_from_number(24.0).value() == 24'000'000'000);
  CHECK_FALSE(price_from_number(0.0000000001));
  CHECK_FALSE(price_from_number(-0.5));
  CHECK_FALSE(price_from_number(1e12));
}

TEST_CASE("scaled integers print as exact decimals", "[billing][money]") {
  CHECK(format_money(11'300) == "0.0000113");
  CHECK(format_money(12'400'000'000) == "12.40");
  CHECK(format_money(0) == "0.00");
  CHECK(format_money(-250'000'000) == "-0.25");
  CHECK(format_scaled(1500, 3) == "1.5");
  CHECK(format_scaled(3000, 3) == "3");
  CHECK(format_scaled(3000, 3, 3) == "3.000");
  CHECK(format_scaled(7, 0) == "7");
  CHECK(format_scaled(INT64_MIN, 9) == "-9223372036.854775808");
}

TEST_CASE("integer arithmetic: rounding halves away from zero, no overflow", "[billing][money]") {
  CHECK(mul_div_round(750, 11'300, 1000) == 8'475);
  CHECK(mul_div_round(1, 1, 2) == 1);
  CHECK(mul_div_round(1, 1, 3) == 0);
  CHECK(mul_div_round(-1, 1, 2) == -1);
  // 1e18 x 1e9 / 1e9 would overflow 64 bits in the middle.
  CHECK(mul_div_round(1'000'000'000'000'000'000, 1'000'000'000, 1'000'000'000) ==
        1'000'000'000'000'000'000);
  CHECK(ceil_div(3001, 1000) == 4);
  CHECK(ceil_div(3000, 1000) == 3);
  CHECK(ceil_div(0, 1000) == 0);
}

TEST_CASE("a million one-second runs cost exactly a million times one", "[billing][money]") {
  // The same sum in doubles drifts; in nano-units it cannot.
  UsageRecord r;
  r.owner.kind = RunKind::kTask;
  r.cpu_request_millis = 1000;
  r.memory_request_bytes = 1ULL << 30;
  r.minimum_ms = 0;
  r.end_ms = 1000;
  Bill one = compute_bill(r, 1000);
  CHECK(one.cost == 11'300 + 1'200);
  Nanos total = 0;
  double drifting = 0;
  for (int i = 0; i < 1'000'000; ++i) {
    total += one.cost;
    drifting += 0.0000113 + 0.0000012;
  }
  CHECK(total == 12'500'000'000);
  CHECK(format_money(total) == "12.50");
  CHECK(drifting != 12.5);
}
