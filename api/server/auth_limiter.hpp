#pragma once
// Failed authentication, limited per peer: a peer (a TCP client's IP address; the port changes
// with every connection, so it is not part of the key) may fail at most `max_failures` times in
// any `window`. Past that, its calls are refused with RESOURCE_EXHAUSTED (REST: 429 with
// Retry-After) without looking at the token, until its oldest failure in the window is older
// than the window — so a peer guessing tokens gets at most 10 guesses a minute, not thousands a
// second. Below the limit nothing changes: a good token right after a bad one works.
//
// A good token does not wipe the peer's failures: otherwise one valid token would buy unlimited
// guesses for every other token. The price: people behind one NAT address share a budget, and
// a guesser among them can hold the others off for up to a window (docs/security.md).
//
// Thread-safe (every API connection thread calls it); memory is bounded by max_peers (the
// peers whose last failure is oldest are forgotten first).
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "common/clock.hpp"

namespace svc::api {

class AuthLimiter {
 public:
  struct Options {
    int max_failures = 10;
    std::chrono::milliseconds window = std::chrono::minutes(1);
    std::size_t max_peers = 10'000;
  };

  explicit AuthLimiter(const Clock& clock) : AuthLimiter(clock, Options{}) {}
  AuthLimiter(const Clock& clock, Options options) : clock_(clock), options_(options) {}

  // How long the peer must wait before it may try again; nullopt when it may try now.
  std::optional<std::chrono::milliseconds> retry_after(std::string_view peer);
  // Counts a failed attempt by peer.
  void failed(std::string_view peer);

  // The peer part of an address, for the key: "192.0.2.1:4000" -> "192.0.2.1",
  // "[::1]:4000" -> "::1"; anything else is kept whole.
  static std::string peer_key(std::string_view address);

  std::size_t tracked_peers() const;

 private:
  using TimePoint = std::chrono::steady_clock::time_point;
  void expire_locked(std::deque<TimePoint>& failures, TimePoint now) const;
  void evict_locked();

  const Clock& clock_;
  Options options_;
  mutable std::mutex mu_;
  std::map<std::string, std::deque<TimePoint>, std::less<>> failures_;  // oldest first
};

}  // namespace svc::api
