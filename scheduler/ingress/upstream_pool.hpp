#pragma once
// Idle keep-alive connections to instances, one pool per io thread (connections are pinned to
// the io_context they were made on), keyed by the instance's serial. Connections are kept only
// while their instance is routable; a connection the instance has closed is noticed (MSG_PEEK)
// and dropped when taken, so a request goes out on a fresh one instead.
// Owns the idle connections; used on its worker's thread only.
#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "scheduler/ingress/http1_upstream.hpp"

namespace svc::ingress {

class UpstreamPool {
 public:
  explicit UpstreamPool(std::size_t per_instance) : per_instance_(per_instance) {}

  // The most recently used live connection to instance, or nullptr.
  std::unique_ptr<Http1Upstream> take(const Instance& instance);
  // Keeps conn for the next request, if its instance is still routable and there is room.
  void put(std::unique_ptr<Http1Upstream> conn, SteadyTime now);
  // Closes every idle connection to the instance with this serial.
  void purge(std::uint64_t serial);
  // Closes connections idle since before cutoff, and those to instances that left routing.
  void expire(SteadyTime cutoff);
  void clear();
  std::size_t size() const;

 private:
  std::size_t per_instance_;
  std::unordered_map<std::uint64_t, std::vector<std::unique_ptr<Http1Upstream>>> idle_;
};

}  // namespace svc::ingress
