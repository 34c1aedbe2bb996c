// A service's logs on disk: the request log, instance output kept after the instance stopped,
// and the merged (and followed) view `svctl service logs` shows.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <mutex>
#include <thread>

#include <catch2/catch.hpp>

#include "common/fs.hpp"
#include "daemon/request_line.hpp"
#include "daemon/service_log_reader.hpp"
#include "daemon/service_logs.hpp"
#include "isolation/rfc3339.hpp"

using namespace svc;
using namespace svc::daemon;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

using Time = std::chrono::system_clock::time_point;
const Time kT0 = Time(std::chrono::milliseconds(1'800'000'000'000));

ingress::RequestRecord req(Time t, const std::string& path, int status,
                           const std::string& instance = "hello-00001-aaaaaaaa") {
  ingress::RequestRecord r;
  r.time = t;
  r.service = "hello";
  r.revision = "hello-00001";
  r.instance = instance;
  r.method = "GET";
  r.path = path;
  r.status = status;
  r.duration = 3ms;
  r.client = "127.0.0.1:5555";
  return r;
}

// Appends a CRI line as the shim writes it.
void out_line(const fs::path& dir, Time t, const std::string& text, bool err = false) {
  REQUIRE(make_dirs(dir, 0700));
  std::string line = fmt::format("{} {} F {}\n", isolation::format_rfc3339_nano(t),
                                 err ? "stderr" : "stdout", text);
  int fd = ::open((dir / "log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  REQUIRE(fd >= 0);
  REQUIRE(::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
  ::close(fd);
}

struct Fixture {
  TempDir dir;
  fs::path sandboxes = dir.path() / "instances";
  FileServiceLogs logs{dir.path() / "services",
                       [this](const std::string& id) { return sandboxes / id; }, 0};
  std::vector<std::string> live;

  std::vector<api::ServiceLogLine> read(api::ServiceLogQuery q = {}) {
    std::vector<api::ServiceLogLine> out;
    auto r = read_service_logs(
        logs, "hello", q, [&] { return live; },
        [&](const api::ServiceLogLine& l) {
          out.push_back(l);
          return true;
        },
        [] { return true; });
    REQUIRE(r);
    return out;
  }
};

std::vector<std::string> texts(const std::vector<api::ServiceLogLine>& lines) {
  std::vector<std::string> out;
  for (const auto& l : lines) out.push_back(l.text);
  return out;
}

}  // namespace

TEST_CASE("request records round-trip through a request log line", "[service-logs]") {
  ingress::RequestRecord r = req(kT0, "/a b/\xff", 200);
  r.cold_start = ingress::ColdStart{1ms, 5ms, 2ms, 1ms};
  r.request_bytes = 10;
  r.response_bytes = 1024;
  auto back = decode_request(encode_request(r));
  REQUIRE(back);
  CHECK(back->time == r.time);
  CHECK(back->path == "/a b/\xef\xbf\xbd");  // invalid UTF-8 replaced, not thrown
  CHECK(back->status == 200);
  CHECK(back->response_bytes == 1024);
  REQUIRE(back->cold_start);
  CHECK(back->cold_start->sandbox == 5ms);
  CHECK(describe_request(*back) ==
        "GET /a b/\xef\xbf\xbd 200 3ms hello-00001-aaaaaaaa cold start (queue 1ms, sandbox 5ms, "
        "readiness 2ms, first byte 1ms)");
  CHECK_FALSE(decode_request("{\"torn"));
}

TEST_CASE("service logs: instance output and request lines, merged in time order",
          "[service-logs]") {
  Fixture f;
  f.live = {"hello-00001-aaaaaaaa"};
  fs::path sb = f.sandboxes / f.live[0];
  out_line(sb, kT0 + 1ms, "listening on :8080");
  out_line(sb, kT0 + 3ms, "served /", false);
  out_line(sb, kT0 + 5ms, "warning: slow", true);
  f.logs.request(req(kT0 + 2ms, "/", 200));
  f.logs.request(req(kT0 + 4ms, "/missing", 404));
  f.logs.request(req(kT0 + 6ms, "/", 200, ""));
  f.logs.flush();
  CHECK(fs::exists(f.logs.requests_dir("hello") / "log"));

  auto all = f.read();
  CHECK(texts(all) == std::vector<std::string>{"listening on :8080",
                                               "GET / 200 3ms hello-00001-aaaaaaaa", "served /",
                                               "GET /missing 404 3ms hello-00001-aaaaaaaa",
                                               "warning: slow", "GET / 200 3ms (no instance)"});
  CHECK(all[0].instance == "hello-00001-aaaaaaaa");
  CHECK(all[1].kind == api::ServiceLogLine::Kind::kRequest);
  REQUIRE(all[1].request);
  CHECK(all[1].request->status == 200);
  CHECK(all[4].kind == api::ServiceLogLine::Kind::kStderr);

  api::ServiceLogQuery q;
  q.tail = 2;
  CHECK(texts(f.read(q)) ==
        std::vector<std::string>{"warning: slow", "GET / 200 3ms (no instance)"});
  q = {};
  q.since = kT0 + 4ms;
  CHECK(f.read(q).size() == 3);
  q = {};
  q.requests = false;
  CHECK(f.read(q).size() == 3);
}

TEST_CASE(
    "service logs: a stopped instance's output is kept, the oldest pruned, all forgotten "
    "with the service",
    "[service-logs]") {
  Fixture f;
  std::string id = "hello-00001-bbbbbbbb";
  out_line(f.sandboxes / id, kT0, "before it stopped");
  f.logs.archive("hello", id);
  CHECK_FALSE(fs::exists(f.sandboxes / id / "log"));
  CHECK(fs::exists(f.logs.instances_dir("hello") / id / "log"));
  auto lines = f.read();  // no live instance any more: the archive still answers
  REQUIRE(lines.size() == 1);
  CHECK(lines[0].text == "before it stopped");
  CHECK(lines[0].instance == id);

  f.logs.archive("hello", "hello-00001-nooutput");  // nothing to keep: nothing made
  CHECK_FALSE(fs::exists(f.logs.instances_dir("hello") / "hello-00001-nooutput"));
  for (std::size_t i = 0; i < FileServiceLogs::kKeptInstances + 2; ++i) {
    std::string other = fmt::format("hello-00001-{:08x}", i);
    out_line(f.sandboxes / other, kT0 + std::chrono::milliseconds(i), "x");
    f.logs.archive("hello", other);
  }
  std::size_t kept = 0;
  for ([[maybe_unused]] const auto& e : fs::directory_iterator(f.logs.instances_dir("hello")))
    ++kept;
  CHECK(kept == FileServiceLogs::kKeptInstances);

  f.logs.request(req(kT0, "/", 200));
  f.logs.forget("hello");
  CHECK_FALSE(fs::exists(f.dir.path() / "services" / "hello"));
  CHECK(f.read().empty());
}

TEST_CASE("service logs: the request log rotates and both files are read", "[service-logs]") {
  TempDir dir;
  FileServiceLogs logs(
      dir.path() / "services", [](const std::string&) { return fs::path(); }, 600);
  for (int i = 0; i < 10; ++i) logs.request(req(kT0 + std::chrono::milliseconds(i), "/", 200));
  logs.flush();
  CHECK(fs::exists(logs.requests_dir("hello") / "log.1"));
  std::vector<api::ServiceLogLine> out;
  REQUIRE(read_service_logs(
      logs, "hello", {}, [] { return std::vector<std::string>{}; },
      [&](const api::ServiceLogLine& l) {
        out.push_back(l);
        return true;
      },
      [] { return true; }));
  // One rotation keeps log.1 and log: the newest lines, in order, none twice.
  REQUIRE(out.size() >= 4);
  for (std::size_t i = 1; i < out.size(); ++i) CHECK(out[i - 1].time < out[i].time);
  CHECK(out.back().time == kT0 + 9ms);
}

TEST_CASE(
    "service logs: following picks up new lines, new instances and an instance that "
    "stopped, without repeating a line",
    "[service-logs]") {
  Fixture f;
  std::string a = "hello-00001-aaaaaaaa";
  std::string b = "hello-00001-bbbbbbbb";
  out_line(f.sandboxes / a, kT0, "a1");
  std::mutex mu;
  std::vector<std::string> seen;
  std::vector<std::string> live = {a};
  std::atomic<bool> stop{false};
  api::ServiceLogQuery q;
  q.follow = true;
  std::thread reader([&] {
    auto r = read_service_logs(
        f.logs, "hello", q,
        [&] {
          std::lock_guard l(mu);
          return live;
        },
        [&](const api::ServiceLogLine& l) {
          std::lock_guard lock(mu);
          seen.push_back(l.text);
          return true;
        },
        [&] { return stop.load(); });
    CHECK(r);
  });
  auto wait_seen = [&](std::size_t n) {
    for (int i = 0; i < 500; ++i) {
      {
        std::lock_guard l(mu);
        if (seen.size() >= n) return true;
      }
      std::this_thread::sleep_for(10ms);
    }
    return false;
  };
  REQUIRE(wait_seen(1));
  out_line(f.sandboxes / a, kT0 + 1ms, "a2");
  REQUIRE(wait_seen(2));
  {
    std::lock_guard l(mu);
    live = {a, b};
  }
  out_line(f.sandboxes / b, kT0 + 2ms, "b1");
  f.logs.request(req(kT0 + 3ms, "/", 200));
  REQUIRE(wait_seen(4));
  // a writes one more line and stops before the follower reads it: its files move.
  out_line(f.sandboxes / a, kT0 + 4ms, "a3");
  f.logs.archive("hello", a);
  {
    std::lock_guard l(mu);
    live = {b};
  }
  REQUIRE(wait_seen(5));
  std::this_thread::sleep_for(300ms);  // a few more rounds: nothing may come twice
  stop = true;
  reader.join();
  std::lock_guard l(mu);
  CHECK(seen ==
        std::vector<std::string>{"a1", "a2", "b1", "GET / 200 3ms hello-00001-aaaaaaaa", "a3"});
}
