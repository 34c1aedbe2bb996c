#include <catch2/catch.hpp>

#include "scheduler/executor.hpp"
#include "scheduler/tasks/event_hub.hpp"

using namespace svc::scheduler;
using namespace std::chrono_literals;

TEST_CASE("subscribers get events, filtered by task, and learn about drops", "[events]") {
  EventHub hub(2);
  auto all = hub.subscribe();
  auto one = hub.subscribe("b");
  for (const char* id : {"a", "b", "c"}) {
    TaskEvent e;
    e.task_id = id;
    hub.publish(e);
  }
  CHECK(all->dropped() == 1);
  // The gap is reported where it is: before the oldest event still queued.
  auto marker = all->next(0ms);
  REQUIRE(marker);
  CHECK(marker->dropped == 1);
  CHECK(marker->seq == 1);  // the last one lost
  CHECK(marker->message.find("dropped 1 events") != std::string::npos);
  CHECK(all->next(0ms)->task_id == "b");
  CHECK(all->next(0ms)->task_id == "c");
  CHECK_FALSE(all->next(0ms));
  CHECK(one->next(0ms)->task_id == "b");
  CHECK_FALSE(one->next(0ms));
  one.reset();  // a dropped subscription is forgotten
  hub.publish(TaskEvent{});
}

TEST_CASE("events carry increasing sequences, and a subscriber resumes after the one it saw",
          "[events]") {
  std::vector<std::uint64_t> reserved;
  EventHub::Options o;
  o.history = 5;
  o.first_seq = 100;  // where the previous svcd's reservation ended
  o.reserve = [&](std::uint64_t upto) { reserved.push_back(upto); };
  EventHub hub(o);
  for (int i = 0; i < 8; ++i) {
    TaskEvent e;
    e.task_id = i % 2 ? "odd" : "even";
    CHECK(hub.publish(e) == 100 + static_cast<std::uint64_t>(i));
  }
  // One write ahead of use per block, before the first number of the block is handed out.
  CHECK(reserved == std::vector<std::uint64_t>{100 + EventHub::kSeqBlock});
  CHECK(hub.next_seq() == 108);

  // Resume after 104: 105..107 are kept.
  auto resumed = hub.subscribe({}, 104);
  for (std::uint64_t want : {105, 106, 107}) CHECK(resumed->next(0ms)->seq == want);
  CHECK_FALSE(resumed->next(0ms));
  // ... and new ones follow.
  hub.publish(TaskEvent{});
  CHECK(resumed->next(0ms)->seq == 108);

  // Resume after 100: 101 and 102 are no longer kept (history of 5: 104..108).
  auto late = hub.subscribe({}, 100);
  auto gap = late->next(0ms);
  REQUIRE(gap);
  CHECK(gap->dropped == 3);  // 101, 102, 103
  CHECK(gap->seq == 103);
  CHECK(gap->message.find("no longer keeps") != std::string::npos);
  CHECK(late->next(0ms)->seq == 104);

  // Filtered by task, resumed.
  auto odd = hub.subscribe("odd", 104);
  CHECK(odd->next(0ms)->seq == 105);
  CHECK(odd->next(0ms)->seq == 107);
  CHECK_FALSE(odd->next(0ms));

  // Up to date: nothing replayed.
  auto current = hub.subscribe({}, 108);
  CHECK_FALSE(current->next(0ms));
}

TEST_CASE(
    "a resume after a restart starts with a marker, and a replay bigger than the queue "
    "reports its gap once",
    "[events]") {
  std::uint64_t recorded = 0;
  EventHub::Options o;
  o.reserve = [&](std::uint64_t upto) { recorded = upto; };
  std::uint64_t last = 0;
  {
    EventHub before(o);
    for (int i = 0; i < 3; ++i) last = before.publish(TaskEvent{});
  }
  CHECK(last == 3);
  CHECK(recorded == 1 + EventHub::kSeqBlock);
  // The next svcd starts where the reservation ended: no number is handed out twice.
  const std::uint64_t start = recorded;
  o.first_seq = start;
  o.queue_limit = 2;
  EventHub after(o);
  CHECK(after.publish(TaskEvent{}) == start);
  for (int i = 0; i < 3; ++i) after.publish(TaskEvent{});  // start .. start+3 kept
  CHECK(recorded == start + EventHub::kSeqBlock);          // its own reservation, ahead
  auto sub = after.subscribe({}, last);
  // Everything of the earlier run is gone, and the replay of 4 did not fit a queue of 2: one
  // marker for the whole gap, then the 2 newest.
  auto gap = sub->next(0ms);
  REQUIRE(gap);
  CHECK(gap->dropped == (start - last - 1) + 2);
  CHECK(gap->seq == start + 1);
  CHECK(gap->message.find("no longer keeps") != std::string::npos);
  CHECK(sub->next(0ms)->seq == start + 2);
  CHECK(sub->next(0ms)->seq == start + 3);
  CHECK_FALSE(sub->next(0ms));
  CHECK(sub->dropped() == (start - last - 1) + 2);
}

TEST_CASE("the thread pool runs work and timers in deadline order, and cancels", "[executor]") {
  ThreadPoolExecutor ex(2);
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int> order;
  auto record = [&](int v) {
    std::lock_guard l(mu);
    order.push_back(v);
    cv.notify_all();
  };
  auto now = std::chrono::steady_clock::now();
  ex.schedule(now + 60ms, [&] { record(3); });
  auto cancelled = ex.schedule(now + 30ms, [&] { record(99); });
  ex.schedule(now + 20ms, [&] { record(2); });
  ex.cancel(cancelled);
  ex.post([&] { record(1); });
  std::unique_lock l(mu);
  REQUIRE(cv.wait_for(l, 5s, [&] { return order.size() >= 3; }));
  CHECK(order == std::vector<int>{1, 2, 3});
}
