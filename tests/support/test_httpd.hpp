#pragma once
// svc-test-httpd (tests/support/httpd/) as a background process on 127.0.0.1 and a port the
// kernel picks: start() waits for its "listening on" line and reads the port from it. Owns the
// process (killed at destruction) and a temp dir holding its log.
#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/process.hpp"

namespace svc::test {

// The built binary (set by CMake); empty when this build has none.
std::string test_httpd_binary();

class TestHttpd {
 public:
  explicit TestHttpd(std::vector<std::string> extra_args = {},
                     std::map<std::string, std::string> env = {});
  ~TestHttpd();
  TestHttpd(const TestHttpd&) = delete;
  TestHttpd& operator=(const TestHttpd&) = delete;

  // Launches it and waits for the listening line; false (and log() says why) on timeout or exit.
  bool start(std::chrono::milliseconds timeout = std::chrono::seconds(10));
  // Launches it and returns at once (a test of start-up delays or readiness probing). With a
  // fixed port (--port N in extra_args) port() is known; otherwise wait_listening() reads it.
  void launch();
  bool wait_listening(std::chrono::milliseconds timeout = std::chrono::seconds(10));

  int port() const { return port_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }
  bool running() { return process_ && process_->running(); }
  std::optional<int> stop(int sig, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  void kill_now();
  std::string log() const;
  // Waits for its output to contain needle (e.g. "request GET /sleep" with --log-requests).
  bool wait_log(const std::string& needle,
                std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;

 private:
  std::vector<std::string> args_;
  std::map<std::string, std::string> env_;
  std::filesystem::path dir_;
  std::unique_ptr<Background> process_;
  int port_ = 0;
};

}  // namespace svc::test
