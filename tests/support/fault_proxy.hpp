#pragma once
// A small fault-injecting HTTP proxy in front of a REAL registry (never a mock): it forwards
// every request to the registry and, for blob downloads larger than a threshold (layers, not
// configs), can corrupt a byte, hang without answering, cut the body half-way (once), redirect
// to the registry itself, or answer 503 once. Each connection carries one request (the proxy
// asks the registry for "Connection: close"), which is what makes the faults exact.
//
// Owns a listening socket and one thread per connection plus the accept thread; stop() (or the
// destructor) closes the socket, wakes hung handlers and joins every thread.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace svc::test {

class FaultProxy {
 public:
  enum class Mode { kPass, kCorruptBlob, kHangBlob, kCutBlobOnce, kRedirectBlob, k503Once };

  explicit FaultProxy(int upstream_port, std::size_t blob_threshold = 64 * 1024);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  void start();
  void stop();
  void set_mode(Mode m) { mode_ = m; }

  int port() const { return port_; }
  std::string host() const { return "127.0.0.1:" + std::to_string(port_); }
  int blob_requests() const { return blob_requests_; }
  int range_requests() const { return range_requests_; }
  int faults() const { return faults_; }

 private:
  void accept_loop();
  void handle(int client);
  bool wait_stop(int ms);  // true when stopping

  int upstream_port_;
  std::size_t threshold_;
  int listen_fd_ = -1;
  int stop_pipe_[2] = {-1, -1};
  int port_ = 0;
  std::atomic<Mode> mode_{Mode::kPass};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> fault_used_{false};
  std::atomic<int> blob_requests_{0}, range_requests_{0}, faults_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;
};

}  // namespace svc::test
