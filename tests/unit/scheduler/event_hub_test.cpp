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
  CHECK(all->next(0ms)->task_id == "b");
  CHECK(all->next(0ms)->task_id == "c");
  CHECK_FALSE(all->next(0ms));
  CHECK(one->next(0ms)->task_id == "b");
  CHECK_FALSE(one->next(0ms));
  one.reset();  // a dropped subscription is forgotten
  hub.publish(TaskEvent{});
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
