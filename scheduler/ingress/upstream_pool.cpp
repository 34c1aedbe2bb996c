#include "scheduler/ingress/upstream_pool.hpp"

#include <algorithm>

namespace svc::ingress {

std::unique_ptr<Http1Upstream> UpstreamPool::take(const Instance& instance) {
  auto it = idle_.find(instance.serial);
  if (it == idle_.end()) return nullptr;
  auto& list = it->second;
  while (!list.empty()) {
    auto conn = std::move(list.back());
    list.pop_back();
    if (instance.routable && conn->alive()) {
      conn->set_reused();
      return conn;
    }
    conn->close();
  }
  return nullptr;
}

void UpstreamPool::put(std::unique_ptr<Http1Upstream> conn, SteadyTime now) {
  const Instance& instance = *conn->instance();
  if (!instance.routable || instance.gone) return;  // dropped: closes it
  auto& list = idle_[instance.serial];
  if (list.size() >= per_instance_) return;
  conn->set_idle_since(now);
  list.push_back(std::move(conn));
}

void UpstreamPool::purge(std::uint64_t serial) { idle_.erase(serial); }

void UpstreamPool::expire(SteadyTime cutoff) {
  for (auto it = idle_.begin(); it != idle_.end();) {
    auto& list = it->second;
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const std::unique_ptr<Http1Upstream>& c) {
                                return c->idle_since() < cutoff || !c->instance()->routable;
                              }),
               list.end());
    it = list.empty() ? idle_.erase(it) : std::next(it);
  }
}

void UpstreamPool::clear() { idle_.clear(); }

std::size_t UpstreamPool::size() const {
  std::size_t n = 0;
  for (const auto& [serial, list] : idle_) n += list.size();
  return n;
}

}  // namespace svc::ingress
