#include "tests/integration/ingress/proxy_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace svc::ingress::test {

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

namespace {

std::function<Result<UniqueFd>()> host_socket() {
  return []() -> Result<UniqueFd> {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return fail_errno("socket");
    return UniqueFd(fd);
  };
}

}  // namespace

TestControlPlane::TestControlPlane(const Clock& clock) : clock_(clock) {
  thread_ = std::thread([this] {
    std::unique_lock lock(mu_);
    for (;;) {
      cv_.wait(lock, [&] { return quit_ || !work_.empty(); });
      if (work_.empty()) return;
      auto fn = std::move(work_.front());
      work_.pop_front();
      lock.unlock();
      fn();
      lock.lock();
    }
  });
}

TestControlPlane::~TestControlPlane() {
  {
    std::lock_guard l(mu_);
    quit_ = true;
    work_.clear();
  }
  cv_.notify_all();
  thread_.join();
  processes_.clear();  // kills them
}

void TestControlPlane::post(std::function<void()> fn) {
  {
    std::lock_guard l(mu_);
    work_.push_back(std::move(fn));
  }
  cv_.notify_all();
}

void TestControlPlane::record(std::string line) {
  {
    std::lock_guard l(mu_);
    events_.push_back(std::move(line));
  }
  cv_.notify_all();
}

void TestControlPlane::set_policy(const std::string& revision, StartPolicy policy) {
  std::lock_guard l(mu_);
  policies_[revision] = std::move(policy);
}

std::string TestControlPlane::launch(const std::string& revision, int concurrency,
                                     std::vector<std::string> args, Readiness readiness) {
  std::string id;
  int port = free_port();
  {
    std::lock_guard l(mu_);
    id = revision + "-i" + std::to_string(next_id_++);
  }
  args.insert(args.end(), {"--port", std::to_string(port), "--id", id, "--die-with-parent"});
  auto process = std::make_unique<TestHttpd>(args);
  InstanceEndpoint ep;
  ep.id = id;
  ep.service = revision.substr(0, revision.rfind('-'));
  ep.revision = revision;
  ep.port = static_cast<std::uint16_t>(port);
  ep.concurrency = concurrency;
  ep.make_socket = host_socket();
  ep.start_requested = clock_.steady_now();
  process->launch();
  ep.sandbox_started = clock_.steady_now();
  {
    std::lock_guard l(mu_);
    processes_[id] = std::move(process);
    ports_[id] = port;
  }
  data->add_instance(std::move(ep), std::move(readiness));
  return id;
}

std::string TestControlPlane::start_instance(const std::string& revision, int concurrency,
                                             std::vector<std::string> args, Readiness readiness,
                                             bool wait_ready) {
  std::string id = launch(revision, concurrency, std::move(args), std::move(readiness));
  if (wait_ready && !wait_event("ready " + id))
    throw std::runtime_error("instance " + id + " did not become ready: " + process(id).log());
  return id;
}

TestHttpd& TestControlPlane::process(const std::string& id) {
  std::lock_guard l(mu_);
  return *processes_.at(id);
}

int TestControlPlane::instance_port(const std::string& id) {
  std::lock_guard l(mu_);
  return ports_.at(id);
}

bool TestControlPlane::wait_event(const std::string& line, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] {
    for (auto& e : events_)
      if (e == line) return true;
    return false;
  });
}

bool TestControlPlane::has_event(const std::string& line) {
  std::lock_guard l(mu_);
  for (auto& e : events_)
    if (e == line) return true;
  return false;
}

std::vector<std::string> TestControlPlane::events() {
  std::lock_guard l(mu_);
  return events_;
}

bool TestControlPlane::wait_records(std::size_t n, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, timeout, [&] { return records_.size() >= n; });
}

std::vector<RequestRecord> TestControlPlane::records() {
  std::lock_guard l(mu_);
  return records_;
}

void TestControlPlane::on_demand(const std::string& revision, std::size_t waiting) {
  record("demand " + revision + " " + std::to_string(waiting));
  std::lock_guard l(mu_);
  auto it = policies_.find(revision);
  if (it == policies_.end() || starting_[revision]) return;
  StartPolicy policy = it->second;
  if (!policy.auto_start && policy.fail_with.empty()) return;
  starting_[revision] = true;
  // One start at a time, as a real control plane: it is in progress until the instance is
  // ready or given up (or, for a failing start, until fail_waiting has been called).
  work_.push_back([this, revision, policy] {
    if (!policy.fail_with.empty()) {
      {
        std::lock_guard l2(mu_);
        starting_[revision] = false;
      }
      data->fail_waiting(revision, policy.fail_with);
    } else {
      launch(revision, policy.concurrency, policy.args, policy.readiness);
    }
  });
  cv_.notify_all();
}

void TestControlPlane::start_done(const std::string& id) {
  std::lock_guard l(mu_);
  starting_[id.substr(0, id.rfind("-i"))] = false;
}

void TestControlPlane::on_ready(const std::string& id, SteadyTime) {
  start_done(id);
  record("ready " + id);
}
void TestControlPlane::on_not_ready(const std::string& id, std::string why) {
  start_done(id);
  // The reason first: a test waiting for "not_ready ID" then reads it.
  record("not_ready_why " + why);
  record("not_ready " + id);
}
void TestControlPlane::on_drained(const std::string& id) { record("drained " + id); }
void TestControlPlane::on_busy(const std::string& id, bool busy, SteadyTime) {
  record((busy ? "busy " : "idle ") + id);
}
void TestControlPlane::on_upstream_error(const std::string& id, std::string why) {
  record("upstream_error " + id);
  record("upstream_error_why " + why);
}
void TestControlPlane::on_request(const RequestRecord& r) {
  {
    std::lock_guard l(mu_);
    records_.push_back(r);
  }
  cv_.notify_all();
}

ProxyOptions test_options() {
  ProxyOptions o;
  o.listen = "127.0.0.1:0";
  o.threads = 2;
  return o;
}

ProxyFixture::ProxyFixture(ProxyOptions options) {
  options.listen = "127.0.0.1:0";
  if (options.threads == 0) options.threads = 2;
  auto p = Proxy::start(std::move(options), cp, clock);
  if (!p) throw std::runtime_error("proxy start: " + p.error().message());
  proxy = std::move(*p);
  cp.data = proxy.get();
}

ProxyFixture::~ProxyFixture() {
  proxy->stop(Millis(0));
  proxy.reset();
}

void ProxyFixture::route(const std::string& service, const std::string& revision,
                         std::size_t queue_limit, Millis request_timeout) {
  ServiceRoute r;
  r.service = service;
  r.traffic = {TrafficTarget{revision, 100, ""}};
  r.queue_limit = queue_limit;
  r.request_timeout = request_timeout;
  proxy->set_route(std::move(r));
}

std::string ProxyFixture::warm(const std::string& revision, int concurrency,
                               std::vector<std::string> args) {
  return cp.start_instance(revision, concurrency, std::move(args));
}

std::optional<HttpResponse> ProxyFixture::get(const std::string& host, const std::string& path,
                                              const std::string& extra) {
  return svc::test::http_request(port(), "GET", host, path, {}, extra);
}

}  // namespace svc::ingress::test
