#include <catch2/catch.hpp>

#include "scheduler/capacity.hpp"

using namespace svc::scheduler;

TEST_CASE("capacity: reserve, refuse with what is free, release", "[capacity]") {
  Capacity cap(Amount{2000, 4ULL << 30});
  CHECK(cap.try_reserve("task:a", Amount{1500, 1ULL << 30}));
  std::string why;
  CHECK_FALSE(cap.try_reserve("task:b", Amount{1000, 1ULL << 30}, &why));
  CHECK(why.find("0.5 vCPU") != std::string::npos);
  CHECK(why.find("1 admitted") != std::string::npos);
  CHECK(cap.reserved() == Amount{1500, 1ULL << 30});
  CHECK(cap.free() == Amount{500, 3ULL << 30});
  CHECK(cap.try_reserve("task:b", Amount{500, 3ULL << 30}));
  CHECK(cap.free() == Amount{0, 0});
  CHECK(cap.holders() == 2);

  int released = 0;
  cap.on_release([&] { ++released; });
  cap.release("task:a");
  cap.release("task:a");  // idempotent: listeners run once
  CHECK(released == 1);
  CHECK_FALSE(cap.holds("task:a"));
  CHECK(cap.holds("task:b"));
  CHECK(cap.reserved() == Amount{500, 3ULL << 30});
}

TEST_CASE("capacity: reserving again replaces the holder's amount", "[capacity]") {
  Capacity cap(Amount{1000, 1ULL << 30});
  CHECK(cap.try_reserve("instance:x", Amount{800, 0}));
  CHECK(cap.try_reserve("instance:x", Amount{1000, 0}));  // its own 800 is not counted twice
  CHECK(cap.reserved() == Amount{1000, 0});
  CHECK_FALSE(cap.can_ever_fit(Amount{1001, 0}));
  CHECK(cap.can_ever_fit(Amount{1000, 1ULL << 30}));
}

TEST_CASE("capacity: force_reserve goes past the total (re-adopted sandboxes)", "[capacity]") {
  Capacity cap(Amount{1000, 1ULL << 30});
  cap.force_reserve("task:a", Amount{800, 0});
  cap.force_reserve("task:b", Amount{800, 0});
  CHECK(cap.reserved().cpu_millis == 1600);
  CHECK(cap.free().cpu_millis == 0);
  CHECK_FALSE(cap.try_reserve("task:c", Amount{1, 0}));
  cap.release("task:a");
  CHECK(cap.try_reserve("task:c", Amount{200, 0}));
}

TEST_CASE("capacity: a cordoned node admits no new holder until uncordoned", "[capacity]") {
  Capacity cap(Amount{2000, 4ULL << 30});
  CHECK(cap.try_reserve("task:a", Amount{100, 1ULL << 20}));
  int released = 0;
  cap.on_release([&] { ++released; });
  CHECK_FALSE(cap.cordoned());
  cap.cordon("the node is draining");
  REQUIRE(cap.cordoned());
  CHECK(*cap.cordoned() == "the node is draining");

  std::string why;
  CHECK_FALSE(cap.try_reserve("task:b", Amount{1, 0}, &why));
  CHECK(why == "the node is draining");
  CHECK_FALSE(cap.holds("task:b"));
  CHECK(cap.try_reserve("task:a", Amount{200, 1ULL << 20}));  // an admitted holder keeps its room
  CHECK(cap.reserved() == Amount{200, 1ULL << 20});
  cap.force_reserve("task:c", Amount{100, 0});  // re-adoption: the sandbox runs already
  CHECK(cap.holds("task:c"));

  cap.uncordon();
  CHECK(released == 1);  // what waits for room tries again
  CHECK_FALSE(cap.cordoned());
  CHECK(cap.try_reserve("task:b", Amount{1, 0}));
  cap.uncordon();  // not cordoned: nothing to wake
  CHECK(released == 1);
}
