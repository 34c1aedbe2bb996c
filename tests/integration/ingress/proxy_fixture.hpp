#pragma once
// The ingress proxy for real on 127.0.0.1:0, in front of real svc-test-httpd processes on the
// host (make_socket returns a plain host socket here; inside svcd it is a socket in the
// instance's network namespace), driven by a fake control plane that "starts" an instance by
// launching such a process — when the data plane asks (on_demand) or when the test does.
//
// TestControlPlane owns its worker thread (the ControlPlane contract: never call back into the
// data plane synchronously, so starts are posted there) and every process it launched; its
// destructor kills them. Events are recorded as lines ("ready <id>", "demand <rev> <n>"...) a
// test can wait for.
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.hpp"
#include "scheduler/ingress/proxy.hpp"
#include "tests/support/http_client.hpp"
#include "tests/support/test_httpd.hpp"

namespace svc::ingress::test {

using svc::test::HttpResponse;
using svc::test::TestHttpd;

// A port nothing listens on now (bound to 127.0.0.1:0 and released).
int free_port();

// What the control plane does when a revision's requests are held.
struct StartPolicy {
  bool auto_start = false;        // launch an instance on on_demand (one at a time)
  std::vector<std::string> args;  // extra svc-test-httpd arguments (--delay-ms ...)
  int concurrency = 10;
  Readiness readiness;
  std::string fail_with;  // non-empty: the "start" fails: fail_waiting(why)
};

class TestControlPlane final : public ControlPlane {
 public:
  explicit TestControlPlane(const Clock& clock);
  ~TestControlPlane() override;

  DataPlane* data = nullptr;  // set once the proxy exists

  void set_policy(const std::string& revision, StartPolicy policy);
  // Launches svc-test-httpd on a fresh port and adds it to revision; waits for on_ready when
  // wait_ready. Returns the instance id.
  std::string start_instance(const std::string& revision, int concurrency,
                             std::vector<std::string> args = {}, Readiness readiness = {},
                             bool wait_ready = true);
  TestHttpd& process(const std::string& id);
  int instance_port(const std::string& id);

  bool wait_event(const std::string& line,
                  std::chrono::milliseconds timeout = std::chrono::seconds(10));
  bool has_event(const std::string& line);
  std::vector<std::string> events();
  bool wait_records(std::size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10));
  std::vector<RequestRecord> records();

  // ControlPlane
  void on_demand(const std::string& revision, std::size_t waiting) override;
  void on_ready(const std::string& instance_id, SteadyTime at) override;
  void on_not_ready(const std::string& instance_id, std::string why) override;
  void on_drained(const std::string& instance_id) override;
  void on_busy(const std::string& instance_id, bool busy, SteadyTime at) override;
  void on_upstream_error(const std::string& instance_id, std::string why) override;
  void on_request(const RequestRecord& record) override;

 private:
  void record(std::string line);
  void start_done(const std::string& instance_id);
  void post(std::function<void()> fn);
  std::string launch(const std::string& revision, int concurrency, std::vector<std::string> args,
                     Readiness readiness);

  const Clock& clock_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> events_;
  std::vector<RequestRecord> records_;
  std::map<std::string, StartPolicy> policies_;
  std::map<std::string, bool> starting_;
  std::map<std::string, std::unique_ptr<TestHttpd>> processes_;
  std::map<std::string, int> ports_;
  int next_id_ = 1;
  std::deque<std::function<void()>> work_;
  bool quit_ = false;
  std::thread thread_;
};

struct ProxyFixture {
  explicit ProxyFixture(ProxyOptions options = ProxyOptions{});
  ~ProxyFixture();

  int port() const { return proxy->port(); }
  void route(const std::string& service, const std::string& revision,
             std::size_t queue_limit = 1000, Millis request_timeout = std::chrono::seconds(30));
  // A ready instance of revision (svc-test-httpd), its id.
  std::string warm(const std::string& revision, int concurrency = 10,
                   std::vector<std::string> args = {});
  std::optional<HttpResponse> get(const std::string& host, const std::string& path,
                                  const std::string& extra = "");

  SystemClock clock;
  TestControlPlane cp{clock};
  std::unique_ptr<Proxy> proxy;
};

// Options for tests: 2 io threads, short timeouts where a test needs them to pass.
ProxyOptions test_options();

}  // namespace svc::ingress::test
