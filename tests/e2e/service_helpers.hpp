#pragma once
// What the services e2e tests share: one registry per test binary with the test images
// (svc-test-httpd in a busybox-static image, and busybox's own httpd), a svcd that may pull
// from it, curl against a service's URL, the service's state as `svctl -o json` prints it, and
// background traffic that records what every request got.
#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/support/daemon_fixture.hpp"
#include "tests/support/registry_fixture.hpp"
#include "tests/support/skip.hpp"

namespace svc::test::services {

using json = nlohmann::json;

// Root only: reported as skipped (tests/support/skip.hpp), never as passed.
#define SERVICES_REQUIRE_ROOT() \
  if (!::svc::test::is_root()) SVC_SKIP("needs root (real sandboxes, cgroups and namespaces)")

struct Images {
  RegistryFixture registry;
  std::string httpd;    // svc-test-httpd as its entrypoint, PORT from the environment
  std::string busybox;  // busybox httpd -f -p 8080 serving /www
};
// Started (and the images pushed) on first use, once per test binary.
Images& images();

// A svcd that may pull from the shared registry; extra: more TOML for its config.
std::unique_ptr<DaemonFixture> start_daemon(const std::string& extra = "");

struct Response {
  int status = 0;                              // 0: no HTTP response (curl's error is in error)
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
  std::string error;
};
// curl URL (the service's own URL, NAME.localhost:PORT, as a user types it).
Response get(const std::string& url, std::chrono::milliseconds timeout = std::chrono::seconds(30));

// `svctl service describe NAME -o json`; null when it fails.
json describe(const DaemonFixture& d, const std::string& name);
// A counter of the API's JSON: protobuf's JSON mapping prints 64-bit integers as strings
// ("2"), 32-bit ones as numbers; absent (a zero) is 0.
long long count_of(const json& field);
// Instances of the service by state ("READY", "STARTING", "DRAINING").
int instances_in(const json& service, const std::string& state);
int instance_count(const json& service);
// Waits until pred(describe) holds.
bool wait_service(const DaemonFixture& d, const std::string& name,
                  const std::function<bool(const json&)>& pred,
                  std::chrono::milliseconds timeout = std::chrono::seconds(30));

// What the service's stopped instances printed, read from svcd's state dir (archived there
// when they stop): for a failure's message, even when svcd itself is gone.
std::string archived_output(const DaemonFixture& d, const std::string& name);

// `svctl deploy ARGS...`, requiring success; returns the URL it printed.
std::string deploy(const DaemonFixture& d, const std::vector<std::string>& args);

// Requests to one service from `clients` threads, each on its own connections, until stop():
// what every request got, by status (0 = no HTTP response: refused, reset, closed early).
class Traffic {
 public:
  // port() is read before each request, so a test can follow an ingress that moved.
  Traffic(std::function<int()> port, std::string host, std::string path, int clients);
  ~Traffic();
  void stop();
  std::map<int, int> by_status() const;
  int total() const;
  int count(int status) const;
  std::vector<std::string> bodies_sample() const;  // bodies of 200s, one in 10
  std::vector<std::string> errors() const;         // the first failures, with when they came
  std::string summary() const;
  // Blocks until at least n more requests finished.
  bool wait_more(int n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  void loop(int index);
  std::function<int()> port_;
  std::string host_, path_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::map<int, int> by_status_;
  std::vector<std::string> bodies_;
  std::vector<std::string> errors_;
  int done_ = 0;
  std::vector<std::thread> threads_;
};

}  // namespace svc::test::services
