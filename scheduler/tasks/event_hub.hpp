#pragma once
// Fan-out of task events to subscribers (the Events API, `svctl events`).
//
// Every event gets a sequence number, increasing across restarts of svcd (the hub is told
// where to start and asks its `reserve` callback to record a high-water mark ahead of use, one
// write per kSeqBlock events, so a crash never reuses a number). The hub keeps the last
// `history` events, so a subscriber can resume after the sequence it last saw.
//
// Each subscriber has a bounded queue; one that does not keep up loses its oldest events and is
// told so in order: next() returns a marker (TaskEvent::dropped > 0) where the gap is. A resume
// from a sequence older than the history starts with such a marker too.
#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>

#include "scheduler/tasks/task.hpp"

namespace svc::scheduler {

class EventHub {
 public:
  class Subscription {
   public:
    // The next event (or a drop marker), or nullopt after timeout (so callers can check for
    // cancellation).
    std::optional<TaskEvent> next(std::chrono::milliseconds timeout);
    // Events lost so far (also those reported by markers).
    std::size_t dropped() const;

   private:
    friend class EventHub;
    void push_locked(const TaskEvent& event, std::size_t limit);
    void add_gap_locked(std::uint64_t count, std::uint64_t last_seq, bool not_kept);
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<TaskEvent> queue_;
    std::size_t dropped_ = 0;
    std::uint64_t pending_gap_ = 0;   // lost right before queue_.front(), not yet reported
    std::uint64_t gap_last_seq_ = 0;  // the last sequence lost in that gap
    bool gap_not_kept_ = false;       // (part of) the gap is events the hub no longer keeps
    std::string task_id_;             // empty = all
  };

  struct Options {
    std::size_t queue_limit = 4096;  // per subscriber
    std::size_t history = 10'000;    // kept for resuming
    std::uint64_t first_seq = 1;
    // Records that sequences below `upto` may be in use; the next svcd starts from there.
    std::function<void(std::uint64_t upto)> reserve;
  };
  static constexpr std::uint64_t kSeqBlock = 1024;

  EventHub() : EventHub(Options{}) {}
  explicit EventHub(std::size_t queue_limit) : EventHub(with_limit(queue_limit)) {}
  explicit EventHub(Options options);

  // The subscription stays registered while the returned pointer lives. since_seq: first
  // replays the kept events after that sequence (a marker first when some are no longer kept).
  std::shared_ptr<Subscription> subscribe(std::string task_id = {},
                                          std::optional<std::uint64_t> since_seq = std::nullopt);
  // Assigns event.seq; returns it.
  std::uint64_t publish(TaskEvent event);
  // The sequence the next event will get (since_seq of at most next_seq() - 1 is meaningful).
  std::uint64_t next_seq() const;

 private:
  static Options with_limit(std::size_t queue_limit) {
    Options o;
    o.queue_limit = queue_limit;
    return o;
  }
  static bool wants(const Subscription& sub, const TaskEvent& e) {
    return sub.task_id_.empty() || sub.task_id_ == e.task_id;
  }

  Options options_;
  mutable std::mutex mu_;
  std::uint64_t next_seq_;
  std::uint64_t reserved_upto_ = 0;
  std::deque<TaskEvent> history_;
  std::list<std::weak_ptr<Subscription>> subscribers_;
};

}  // namespace svc::scheduler
