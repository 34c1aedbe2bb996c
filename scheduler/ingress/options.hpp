#pragma once
// What a user (through svcd's [ingress] config) can set on the proxy. Plain data; the defaults
// are what a careful operator of nginx or Envoy would pick for an edge proxy on one node.
#include <chrono>
#include <cstddef>
#include <functional>
#include <string>

namespace svc::ingress {

struct Limits {
  // Request line plus header fields, in bytes (Envoy: 60 KiB; nginx: 4 x 8 KiB). More: 431.
  std::size_t max_header_bytes = 64 * 1024;
  // Header fields in one request (Envoy's default). More: 431.
  std::size_t max_header_count = 100;
  // The head of an instance's response; more is the instance's fault: 502.
  std::size_t max_response_header_bytes = 64 * 1024;
  // Bytes each direction of an exchange holds at most (read buffers grow to the header limits
  // only while a head is incomplete): a body is streamed through this, never held whole.
  std::size_t io_buffer_bytes = 16 * 1024;
  // Idle keep-alive connections kept per instance and io thread.
  std::size_t pool_idle_per_instance = 64;
};

struct Timeouts {
  using Millis = std::chrono::milliseconds;
  // From the first byte of a request to the end of its head: a client slower than this is cut
  // off (slowloris). nginx's client_header_timeout is 60 s; an edge in front of serverless
  // instances can be stricter.
  Millis header_read{10'000};
  // A client connection with no request in progress is closed after this (nginx: 75 s).
  Millis keep_alive_idle{60'000};
  // While a body streams, no byte in either direction for this long ends the exchange.
  Millis body_idle{60'000};
  // make_socket + TCP connect to an instance (loopback inside its namespace: normally < 1 ms).
  Millis upstream_connect{5'000};
};

struct ProxyOptions {
  std::string listen = "127.0.0.1:8080";  // "host:port"; port 0: the kernel picks (tests)
  std::string domain = "localhost";       // service NAME answers at NAME.<domain>
  int threads = 0;  // io threads, each with its own io_context; 0: one per core
  // GET of this path on a Host that names no service (http://127.0.0.1:8080/metrics, as a
  // Prometheus on the node scrapes it) answers Prometheus text; a service's own /metrics is
  // never shadowed. "": off (a 404 like any unrouted request).
  std::string metrics_path = "/metrics";
  // The text it answers: svcd gives its whole /metrics (node, tasks, services, usage and these
  // svc_ingress_* series); unset, the proxy's own series. Called on an io thread.
  std::function<std::string()> metrics;
  Limits limits;
  Timeouts timeouts;
};

}  // namespace svc::ingress
