#include "scheduler/capacity.hpp"

#include <algorithm>

#include "common/units.hpp"

namespace svc::scheduler {

Amount Capacity::reserved() const {
  std::lock_guard lock(mu_);
  return reserved_;
}

std::size_t Capacity::holders() const {
  std::lock_guard lock(mu_);
  return held_.size();
}

Amount Capacity::free() const {
  std::lock_guard lock(mu_);
  return Amount{std::max<std::int64_t>(0, total_.cpu_millis - reserved_.cpu_millis),
                total_.memory_bytes > reserved_.memory_bytes
                    ? total_.memory_bytes - reserved_.memory_bytes
                    : 0};
}

bool Capacity::can_ever_fit(const Amount& need) const {
  return need.cpu_millis <= total_.cpu_millis && need.memory_bytes <= total_.memory_bytes;
}

bool Capacity::try_reserve(const std::string& holder, const Amount& need, std::string* why) {
  return try_reserve(holder, need, need, why);
}

bool Capacity::try_reserve(const std::string& holder, const Amount& need, const Amount& limit,
                           std::string* why) {
  Refusal refused;
  bool ok = try_reserve(holder, need, limit, &refused);
  if (!ok && why) *why = std::move(refused.why);
  return ok;
}

bool Capacity::try_reserve(const std::string& holder, const Amount& need, const Amount& limit,
                           Refusal* refused) {
  std::lock_guard lock(mu_);
  return reserve_locked(holder, need, limit, false, refused);
}

void Capacity::force_reserve(const std::string& holder, const Amount& need) {
  force_reserve(holder, need, need);
}

void Capacity::force_reserve(const std::string& holder, const Amount& need, const Amount& limit) {
  std::lock_guard lock(mu_);
  reserve_locked(holder, need, limit, true, nullptr);
}

bool Capacity::reserve_locked(const std::string& holder, const Amount& need, const Amount& limit,
                              bool force, Refusal* refused) {
  auto held = held_.find(holder);
  if (cordoned_ && !force && held == held_.end()) {
    if (refused) *refused = Refusal{true, *cordoned_};
    return false;
  }
  Amount base = reserved_;
  if (held != held_.end()) {
    base.cpu_millis -= held->second.need.cpu_millis;
    base.memory_bytes -= held->second.need.memory_bytes;
  }
  bool ok = base.cpu_millis + need.cpu_millis <= total_.cpu_millis &&
            base.memory_bytes + need.memory_bytes <= total_.memory_bytes;
  if (!ok && !force) {
    if (refused) *refused = Refusal{false, describe_free_locked()};
    return false;
  }
  reserved_ = base;
  reserved_ += need;
  held_[holder] = Held{need, limit};
  return true;
}

void Capacity::release(const std::string& holder) {
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard lock(mu_);
    auto it = held_.find(holder);
    if (it == held_.end()) return;
    reserved_.cpu_millis -= it->second.need.cpu_millis;
    reserved_.memory_bytes -= it->second.need.memory_bytes;
    held_.erase(it);
    listeners = listeners_locked();
  }
  for (auto& l : listeners) l();
}

std::vector<std::function<void()>> Capacity::listeners_locked() const {
  std::vector<std::function<void()>> out;
  for (const auto& [id, l] : listeners_) out.push_back(l);
  return out;
}

bool Capacity::cordon(std::string reason) {
  std::lock_guard lock(mu_);
  if (cordoned_) return false;
  cordoned_ = std::move(reason);
  return true;
}

bool Capacity::uncordon() {
  std::vector<std::function<void()>> listeners;
  {
    std::lock_guard lock(mu_);
    if (!cordoned_) return false;
    cordoned_.reset();
    listeners = listeners_locked();
  }
  for (auto& l : listeners) l();
  return true;
}

std::optional<std::string> Capacity::cordoned() const {
  std::lock_guard lock(mu_);
  return cordoned_;
}

bool Capacity::holds(const std::string& holder) const {
  std::lock_guard lock(mu_);
  return held_.count(holder) > 0;
}

std::uint64_t Capacity::on_release(std::function<void()> listener) {
  std::lock_guard lock(mu_);
  std::uint64_t id = next_listener_++;
  listeners_[id] = std::move(listener);
  return id;
}

void Capacity::remove_listener(std::uint64_t id) {
  std::lock_guard lock(mu_);
  listeners_.erase(id);
}

Capacity::Totals Capacity::totals() const {
  std::lock_guard lock(mu_);
  Totals t;
  t.total = total_;
  t.reserved = reserved_;
  t.holders = held_.size();
  for (const auto& [holder, h] : held_) {
    t.limits += h.limit;
    if (h.limit.cpu_millis <= 0) ++t.without_cpu_limit;
  }
  return t;
}

std::string Capacity::describe_free() const {
  std::lock_guard lock(mu_);
  return describe_free_locked();
}

std::string Capacity::describe_free_locked() const {
  std::int64_t cpu_free = std::max<std::int64_t>(0, total_.cpu_millis - reserved_.cpu_millis);
  std::uint64_t mem_free = total_.memory_bytes > reserved_.memory_bytes
                               ? total_.memory_bytes - reserved_.memory_bytes
                               : 0;
  return fmt::format("the node has {} vCPU and {} free (of {} vCPU and {}, {} admitted)",
                     format_cpu_millis(cpu_free), format_size_human(mem_free),
                     format_cpu_millis(total_.cpu_millis), format_size_human(total_.memory_bytes),
                     held_.size());
}

}  // namespace svc::scheduler
