#include <catch2/catch.hpp>

#include "scheduler/ingress/picker.hpp"

using namespace svc::ingress;

namespace {
struct C {
  bool routable;
  int in_flight;
  int concurrency;
};
std::size_t pick(const std::vector<C>& cs, std::size_t start = 0) {
  return pick_least_loaded(cs.size(), start, [&](std::size_t i) { return cs[i]; });
}
}  // namespace

TEST_CASE("picking: the least loaded instance with a free slot", "[ingress][picker]") {
  CHECK(pick({}) == kNone);
  CHECK(pick({{true, 3, 10}, {true, 1, 10}, {true, 2, 10}}) == 1);
  CHECK(pick({{true, 10, 10}, {true, 9, 10}}) == 1);
  CHECK(pick({{true, 10, 10}, {true, 10, 10}}) == kNone);  // all full: the request waits
  CHECK(pick({{false, 0, 10}, {true, 5, 10}}) == 1);       // draining/probing ones never
  CHECK(pick({{false, 0, 10}}) == kNone);
}

TEST_CASE("picking: ties rotate from start so equal instances share the load",
          "[ingress][picker]") {
  std::vector<C> idle = {{true, 0, 4}, {true, 0, 4}, {true, 0, 4}};
  CHECK(pick(idle, 0) == 0);
  CHECK(pick(idle, 1) == 1);
  CHECK(pick(idle, 5) == 2);
}

TEST_CASE("picking: the traffic split by smooth weighted round-robin", "[ingress][picker]") {
  std::vector<std::int64_t> state;
  std::vector<std::uint32_t> w = {90, 10};
  int counts[2] = {0, 0};
  for (int i = 0; i < 100; ++i) ++counts[pick_weighted(w, state)];
  CHECK(counts[0] == 90);
  CHECK(counts[1] == 10);
  // Interleaved, not 90 in a row then 10: the 10 % target appears within each tenth.
  state.clear();
  for (int block = 0; block < 10; ++block) {
    int minority = 0;
    for (int i = 0; i < 10; ++i) minority += pick_weighted(w, state) == 1;
    CHECK(minority == 1);
  }
  std::vector<std::uint32_t> single = {100};
  CHECK(pick_weighted(single, state) == 0);
  std::vector<std::uint32_t> none = {0, 0};
  CHECK(pick_weighted(none, state) == kNone);
  std::vector<std::uint32_t> empty;
  CHECK(pick_weighted(empty, state) == kNone);
}
