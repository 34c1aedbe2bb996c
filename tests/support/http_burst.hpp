#pragma once
// Many HTTP/1.1 requests sent at the same moment, as a crowd of clients would: one connection
// each (all connected before the first request is written), one GET each with
// "Connection: close", every response read to its end. For the burst e2e test (1,000 requests
// at a service scaled to zero) and the burst benchmark. One thread, epoll, non-blocking sockets;
// owns its sockets and closes them all before it returns.
#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace svc::test {

struct BurstResult {
  std::map<int, int> by_status;     // HTTP status -> responses
  int connect_failed = 0;           // never connected
  int no_response = 0;              // connected, but closed or timed out before a status line
  std::vector<double> latency_ms;   // per answered request: first byte written -> response end
  double all_answered_ms = 0;       // the first write -> the last response's end
  std::vector<std::string> errors;  // the first few failures, for the test's message
  int answered() const;
  int count(int status) const;
  std::string summary() const;  // "1000 requests: 200 x998, 503 x2; 0 unanswered"
};

// n requests for path with Host: host_header to 127.0.0.1:port. Raises this process's soft
// RLIMIT_NOFILE to what n needs (never above the hard limit). timeout bounds the whole burst.
BurstResult http_burst(int port, const std::string& host_header, const std::string& path, int n,
                       std::chrono::milliseconds timeout = std::chrono::seconds(30));

// The q-quantile (0..1) of values (nearest rank); 0 for none.
double quantile(std::vector<double> values, double q);

}  // namespace svc::test
