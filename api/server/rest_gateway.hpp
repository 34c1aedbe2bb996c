#pragma once
// Serves the Dispatcher as REST/JSON over HTTP/1.1 (Boost.Beast, blocking I/O on the
// connection's own thread: this is a node-local admin API, not the ingress path).
// Streaming methods answer with chunked NDJSON, or SSE when the client asks for
// text/event-stream.
#include <atomic>
#include <functional>
#include <string>

#include "api/server/dispatcher.hpp"
#include "api/server/grpc_gateway.hpp"
#include "api/server/rest_routes.hpp"

namespace svc::api {

using MetricsFn = std::function<std::string()>;

class RestGateway {
 public:
  RestGateway(const Dispatcher& dispatcher, Authenticator authenticator, MetricsFn metrics);

  // Serves one connection until the peer closes it, it idles out, or stopping is set. The
  // caller keeps ownership of fd and closes it; peer: who is on it (read at accept).
  void serve(int fd, bool trusted, const std::atomic<bool>& stopping,
             const PeerIdentity& peer) const;

 private:
  const Dispatcher& dispatcher_;
  RestRouter router_;
  Authenticator authenticator_;
  MetricsFn metrics_;
};

}  // namespace svc::api
