#include "daemon/billing/busy_seconds.hpp"

#include <algorithm>

namespace svc::billing {

std::int64_t BusySeconds::bucket(std::int64_t at_ms) const {
  std::int64_t rel = std::max<std::int64_t>(0, at_ms - origin_ms_);
  return rel / 1000;
}

std::int64_t BusySeconds::new_buckets(std::int64_t from_ms, std::int64_t to_ms,
                                      std::int64_t* last_bucket) const {
  if (to_ms < from_ms) to_ms = from_ms;
  std::int64_t first = bucket(from_ms);
  // [from, to): the end is exclusive, except that an instant (from == to) still touches its
  // second — a request served within one millisecond is still a request served.
  std::int64_t last = to_ms > from_ms ? bucket(to_ms - 1) : first;
  std::int64_t start = std::max(first, state_.last_bucket + 1);
  *last_bucket = std::max(state_.last_bucket, last);
  return last >= start ? last - start + 1 : 0;
}

void BusySeconds::busy(std::int64_t at_ms) {
  if (state_.busy_since_ms) return;
  state_.busy_since_ms = at_ms;
}

void BusySeconds::idle(std::int64_t at_ms) {
  if (!state_.busy_since_ms) return;
  std::int64_t from = *state_.busy_since_ms;
  state_.busy_since_ms.reset();
  add(from, at_ms);
  state_.busy_ms += std::max<std::int64_t>(0, at_ms - from);
}

void BusySeconds::add(std::int64_t from_ms, std::int64_t to_ms) {
  std::int64_t last = state_.last_bucket;
  state_.counted += new_buckets(from_ms, to_ms, &last);
  state_.last_bucket = last;
}

std::int64_t BusySeconds::billed_seconds(std::int64_t now_ms) const {
  if (!state_.busy_since_ms) return state_.counted;
  std::int64_t last = 0;
  return state_.counted + new_buckets(*state_.busy_since_ms, now_ms, &last);
}

std::int64_t BusySeconds::busy_ms(std::int64_t now_ms) const {
  if (!state_.busy_since_ms) return state_.busy_ms;
  return state_.busy_ms + std::max<std::int64_t>(0, now_ms - *state_.busy_since_ms);
}

}  // namespace svc::billing
