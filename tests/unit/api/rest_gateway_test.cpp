// The REST gateway over a socketpair, with fake backends: the status codes and bodies a curl
// user gets. No daemon, no root, no network.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "api/server/rest_gateway.hpp"
#include "api/server/services/task_service.hpp"
#include "tests/unit/api/fake_backends.hpp"

using namespace svc;
using namespace svc::api;
using namespace svc::api::testing;
namespace sch = svc::scheduler;
using json = nlohmann::json;

namespace {

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // de-chunked
};

Response parse_response(const std::string& raw) {
  Response r;
  auto head_end = raw.find("\r\n\r\n");
  REQUIRE(head_end != std::string::npos);
  std::string head = raw.substr(0, head_end);
  std::string rest = raw.substr(head_end + 4);
  r.status = std::stoi(head.substr(9, 3));
  std::size_t pos = head.find("\r\n");
  while (pos != std::string::npos && pos < head.size()) {
    std::size_t next = head.find("\r\n", pos + 2);
    std::string line = head.substr(pos + 2, next == std::string::npos ? next : next - pos - 2);
    if (auto colon = line.find(':'); colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      r.headers[name] = line.substr(line.find_first_not_of(' ', colon + 1));
    }
    pos = next;
  }
  if (r.headers["transfer-encoding"] == "chunked") {
    std::size_t p = 0;
    for (;;) {
      std::size_t eol = rest.find("\r\n", p);
      REQUIRE(eol != std::string::npos);
      std::size_t n = std::stoul(rest.substr(p, eol - p), nullptr, 16);
      if (n == 0) break;
      r.body += rest.substr(eol + 2, n);
      p = eol + 2 + n + 2;
    }
  } else {
    r.body = rest;
  }
  return r;
}

// One connection to a RestGateway served on its own thread, as the listener does.
struct Conn {
  RestGateway& gateway;
  int fds[2] = {-1, -1};
  std::atomic<bool> stopping{false};
  std::thread server;
  Conn(RestGateway& g, bool trusted) : gateway(g) {
    REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    server = std::thread([this, trusted] {
      gateway.serve(fds[1], trusted, stopping);
      ::close(fds[1]);
    });
  }
  ~Conn() {
    ::shutdown(fds[0], SHUT_RDWR);
    server.join();
    ::close(fds[0]);
  }
  // Sends one request with "Connection: close" and reads the whole answer.
  Response request(const std::string& method, const std::string& target,
                   const std::string& body = "", const std::string& extra_headers = "") {
    std::string req =
        method + " " + target + " HTTP/1.1\r\nHost: svcd\r\nConnection: close\r\n" + extra_headers;
    if (!body.empty()) req += "Content-Type: application/json\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    REQUIRE(::write(fds[0], req.data(), req.size()) == static_cast<ssize_t>(req.size()));
    std::string raw;
    char buf[4096];
    for (;;) {
      ssize_t n = ::read(fds[0], buf, sizeof buf);
      if (n <= 0) break;
      raw.append(buf, static_cast<std::size_t>(n));
    }
    return parse_response(raw);
  }
};

struct Fixture {
  Dispatcher d;
  FakeTaskBackend tasks;
  RestGateway gateway;
  Fixture()
      : gateway(
            d,
            [](std::string_view token) -> Result<std::string> {
              if (token == "good") return std::string("ci");
              return fail(Code::kUnauthenticated, "unknown token");
            },
            [] { return std::string("svcd_up 1\n"); }) {
    register_task_service(d, tasks);
    sch::Task t;
    t.id = "aaaa00001111";
    t.spec.name = "talker";
    t.spec.image = "busybox";
    t.state = sch::TaskState::kRunning;
    tasks.tasks[t.id] = t;
    sch::LogLine l;
    l.text = "hello";
    tasks.lines = {l};
  }
};

}  // namespace

TEST_CASE("REST: a stream for an unknown task is a 404, a known one an NDJSON 200", "[rest]") {
  Fixture f;
  {
    Conn c(f.gateway, true);
    auto r = c.request("GET", "/v1/tasks/ghost/logs?follow=true");
    CHECK(r.status == 404);
    CHECK(r.headers["content-type"] == "application/json");
    json e = json::parse(r.body);
    CHECK(e["code"] == "NOT_FOUND");
    CHECK(e["message"].get<std::string>().find("ghost") != std::string::npos);
  }
  {
    Conn c(f.gateway, true);
    auto r = c.request("GET", "/v1/events?taskId=ghost");
    CHECK(r.status == 404);
  }
  {
    // A bad parameter of a stream is a 400, not a 200 with an error line.
    Conn c(f.gateway, true);
    auto r = c.request("GET", "/v1/tasks/talker/logs?tail=-1");
    CHECK(r.status == 400);
    CHECK(json::parse(r.body)["code"] == "INVALID_ARGUMENT");
  }
  {
    Conn c(f.gateway, true);
    auto r = c.request("GET", "/v1/tasks/talker/logs");
    CHECK(r.status == 200);
    CHECK(r.headers["content-type"] == "application/x-ndjson");
    CHECK(json::parse(r.body)["text"] == "hello");
  }
  {
    // A stream with nothing to say is an empty 200 stream.
    f.tasks.lines.clear();
    Conn c(f.gateway, true);
    auto r = c.request("GET", "/v1/tasks/talker/logs");
    CHECK(r.status == 200);
    CHECK(r.body.empty());
  }
}

TEST_CASE("REST: a wrong method is a 405 with UNIMPLEMENTED and Allow", "[rest]") {
  Fixture f;
  Conn c(f.gateway, true);
  auto r = c.request("PUT", "/v1/tasks/talker");
  CHECK(r.status == 405);
  CHECK(r.headers["allow"] == "GET, DELETE");
  json e = json::parse(r.body);
  CHECK(e["code"] == "UNIMPLEMENTED");
  CHECK(e["message"].get<std::string>().find("PUT is not allowed") != std::string::npos);
  Conn c2(f.gateway, true);
  auto missing = c2.request("GET", "/v1/nothing");
  CHECK(missing.status == 404);
  CHECK(json::parse(missing.body)["code"] == "NOT_FOUND");
}

TEST_CASE("REST: a JSON syntax error says where it is", "[rest]") {
  Fixture f;
  Conn c(f.gateway, true);
  auto r = c.request("POST", "/v1/tasks", "{\"spec\": {\"image\": \"busybox\",\n  \"name\": x}}");
  CHECK(r.status == 400);
  json e = json::parse(r.body);
  CHECK(e["code"] == "INVALID_ARGUMENT");
  std::string msg = e["message"];
  CHECK(msg.find("line 2, column 11") != std::string::npos);
  CHECK(msg.find("[json.exception") == std::string::npos);
  CHECK(f.tasks.ran.empty());
}

TEST_CASE("REST on TCP: no token, a bad token and a good one", "[rest][auth]") {
  Fixture f;
  {
    Conn c(f.gateway, false);
    auto r = c.request("GET", "/v1/tasks");
    CHECK(r.status == 401);
    CHECK(r.headers["www-authenticate"].find("Bearer") != std::string::npos);
  }
  {
    Conn c(f.gateway, false);
    auto r = c.request("GET", "/v1/tasks", "", "Authorization: Bearer nope\r\n");
    CHECK(r.status == 401);
  }
  {
    Conn c(f.gateway, false);
    auto r = c.request("GET", "/v1/tasks", "", "Authorization: Bearer good\r\n");
    CHECK(r.status == 200);
  }
}
