#include "api/server/auth_limiter.hpp"

#include <algorithm>
#include <vector>

namespace svc::api {

void AuthLimiter::expire_locked(std::deque<TimePoint>& failures, TimePoint now) const {
  while (!failures.empty() && now - failures.front() >= options_.window) failures.pop_front();
}

std::optional<std::chrono::milliseconds> AuthLimiter::retry_after(std::string_view peer) {
  const TimePoint now = clock_.steady_now();
  std::lock_guard lock(mu_);
  auto it = failures_.find(peer);
  if (it == failures_.end()) return std::nullopt;
  expire_locked(it->second, now);
  if (it->second.empty()) {
    failures_.erase(it);
    return std::nullopt;
  }
  if (static_cast<int>(it->second.size()) < options_.max_failures) return std::nullopt;
  // The peer may try again once enough failures left the window to bring it below the limit.
  const auto& f = it->second;
  TimePoint frees = f[f.size() - static_cast<std::size_t>(options_.max_failures)] + options_.window;
  auto wait = std::chrono::ceil<std::chrono::milliseconds>(frees - now);
  return std::max(wait, std::chrono::milliseconds(1));
}

void AuthLimiter::failed(std::string_view peer) {
  const TimePoint now = clock_.steady_now();
  std::lock_guard lock(mu_);
  auto it = failures_.find(peer);
  if (it == failures_.end()) {
    if (failures_.size() >= options_.max_peers) evict_locked();
    it = failures_.emplace(std::string(peer), std::deque<TimePoint>{}).first;
  }
  expire_locked(it->second, now);
  it->second.push_back(now);
  // Only the newest max_failures matter for the decision.
  while (static_cast<int>(it->second.size()) > options_.max_failures) it->second.pop_front();
}

void AuthLimiter::evict_locked() {
  // Forget the tenth of peers whose last failure is oldest: O(n log n) once per max_peers/10
  // new peers, instead of a second index kept in step on every failure.
  std::vector<std::pair<TimePoint, std::string>> last;
  last.reserve(failures_.size());
  for (const auto& [peer, f] : failures_)
    last.emplace_back(f.empty() ? TimePoint{} : f.back(), peer);
  std::size_t drop = std::max<std::size_t>(1, failures_.size() / 10);
  std::nth_element(last.begin(), last.begin() + static_cast<std::ptrdiff_t>(drop - 1), last.end());
  for (std::size_t i = 0; i < drop; ++i) failures_.erase(last[i].second);
}

std::size_t AuthLimiter::tracked_peers() const {
  std::lock_guard lock(mu_);
  return failures_.size();
}

std::string AuthLimiter::peer_key(std::string_view address) {
  if (address.starts_with('[')) {
    auto close = address.find(']');
    if (close != std::string_view::npos) return std::string(address.substr(1, close - 1));
    return std::string(address);
  }
  auto colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(':') == colon)
    return std::string(address.substr(0, colon));
  return std::string(address);
}

}  // namespace svc::api
