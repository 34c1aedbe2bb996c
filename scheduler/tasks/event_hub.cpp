#include "scheduler/tasks/event_hub.hpp"

#include <fmt/format.h>

namespace svc::scheduler {

namespace {

TaskEvent drop_marker(std::uint64_t count, std::uint64_t last_seq, bool not_kept) {
  TaskEvent m;
  m.seq = last_seq;
  m.dropped = count;
  m.message = not_kept ? fmt::format(
                             "dropped {} events up to sequence {}: svcd no longer keeps them "
                             "(it keeps the last events since it started); list the tasks for "
                             "their state",
                             count, last_seq)
                       : fmt::format(
                             "dropped {} events up to sequence {}: this subscriber fell behind; "
                             "resume after sequence {} or list the tasks for their state",
                             count, last_seq, last_seq);
  return m;
}

}  // namespace

void EventHub::Subscription::add_gap_locked(std::uint64_t count, std::uint64_t last_seq,
                                            bool not_kept) {
  pending_gap_ += count;
  gap_last_seq_ = std::max(gap_last_seq_, last_seq);
  gap_not_kept_ = gap_not_kept_ || not_kept;
  dropped_ += count;
}

void EventHub::Subscription::push_locked(const TaskEvent& event, std::size_t limit) {
  if (limit > 0 && queue_.size() >= limit) {
    // The oldest goes: a gap is always right before the queue's front, so one count says it.
    add_gap_locked(1, queue_.front().seq, false);
    queue_.pop_front();
  }
  queue_.push_back(event);
}

std::optional<TaskEvent> EventHub::Subscription::next(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!cv_.wait_for(lock, timeout, [&] { return !queue_.empty() || pending_gap_ > 0; }))
    return std::nullopt;
  if (pending_gap_ > 0) {
    TaskEvent m = drop_marker(pending_gap_, gap_last_seq_, gap_not_kept_);
    pending_gap_ = 0;
    gap_not_kept_ = false;
    return m;
  }
  TaskEvent e = std::move(queue_.front());
  queue_.pop_front();
  return e;
}

std::size_t EventHub::Subscription::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

EventHub::EventHub(Options options)
    : options_(std::move(options)), next_seq_(std::max<std::uint64_t>(1, options_.first_seq)) {}

std::uint64_t EventHub::next_seq() const {
  std::lock_guard lock(mu_);
  return next_seq_;
}

std::shared_ptr<EventHub::Subscription> EventHub::subscribe(std::string task_id,
                                                            std::optional<std::uint64_t> since) {
  auto sub = std::make_shared<Subscription>();
  sub->task_id_ = std::move(task_id);
  std::lock_guard lock(mu_);
  if (since && *since + 1 < next_seq_) {
    std::lock_guard sl(sub->mu_);
    // What is no longer kept: before the history, or from an earlier run of svcd (whose last
    // numbers may never have been used: the count is then an upper bound).
    std::uint64_t oldest = history_.empty() ? next_seq_ : history_.front().seq;
    if (*since + 1 < oldest) sub->add_gap_locked(oldest - *since - 1, oldest - 1, true);
    for (const auto& e : history_)
      if (e.seq > *since && wants(*sub, e)) sub->push_locked(e, options_.queue_limit);
  }
  subscribers_.push_back(sub);
  return sub;
}

std::uint64_t EventHub::publish(TaskEvent event) {
  std::lock_guard lock(mu_);
  event.seq = next_seq_++;
  if (event.seq >= reserved_upto_) {
    reserved_upto_ = event.seq + kSeqBlock;
    if (options_.reserve) options_.reserve(reserved_upto_);
  }
  if (options_.history > 0) {
    if (history_.size() >= options_.history) history_.pop_front();
    history_.push_back(event);
  }
  for (auto it = subscribers_.begin(); it != subscribers_.end();) {
    auto sub = it->lock();
    if (!sub) {
      it = subscribers_.erase(it);
      continue;
    }
    ++it;
    if (!wants(*sub, event)) continue;
    {
      std::lock_guard sl(sub->mu_);
      sub->push_locked(event, options_.queue_limit);
    }
    sub->cv_.notify_one();
  }
  return event.seq;
}

}  // namespace svc::scheduler
